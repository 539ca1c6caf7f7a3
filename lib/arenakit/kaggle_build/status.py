"""`build.py status`: where each built dataset and kernel stands on Kaggle, as a table, from the kaggle CLI.

    rows = kaggle_status(plan(Path("build")), KaggleCli())
    print(status_table(rows))

One row per built dataset and kernel, in push order: its kind, name, ref and Kaggle's status
("not pushed" when Kaggle has no such thing), with a kernel's failure message when it has one.
For every kernel whose latest run failed, its log is read with `kaggle kernels logs` (as push
does) and its failing cell, error and last lines are printed below the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arenakit.kaggle_build.cli import KaggleCli, KernelState
from arenakit.kaggle_build.push import Step, report_kernel_failure

NOT_PUSHED = "not pushed"
FAILED_KERNEL = ("error", "cancel_requested", "cancel_acknowledged")


@dataclass(frozen=True)
class StatusRow:
    step: Step
    status: str
    message: str = ""
    state: KernelState | None = None

    @property
    def failed(self) -> bool:
        return self.step.kind == "kernel" and self.status in FAILED_KERNEL


def kaggle_status(steps: list[Step], cli: KaggleCli) -> list[StatusRow]:
    rows = []
    for step in steps:
        if step.kind == "dataset":
            rows.append(StatusRow(step, cli.dataset_status(step.ref) or NOT_PUSHED))
        else:
            state = cli.kernel_status(step.ref)
            rows.append(
                StatusRow(step, state.status, state.failure_message, state) if state else StatusRow(step, NOT_PUSHED)
            )
    return rows


def status_table(rows: list[StatusRow]) -> str:
    table = [("kind", "name", "ref", "status", "message")]
    table += [(r.step.kind, r.step.name, r.step.ref, r.status, r.message) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table)


def report_failures(rows: list[StatusRow], cli: KaggleCli, logs_dir: Path) -> list[str]:
    """Print the log report of every failed kernel; the one-line summaries."""
    summaries = []
    for row in rows:
        if row.failed:
            where = report_kernel_failure(cli, row.state, row.step.ref, logs_dir, row.step.folder)
            summaries.append(f"kernel {row.step.ref} is {row.status}{where}")
    return summaries
