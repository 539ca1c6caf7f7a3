"""Upload the built datasets and kernels with the real kaggle CLI, in dependency order.

    steps = plan(Path("build"))                  # datasets, training kernels, then the submission kernel
    Pusher(dry_run=True).push(steps)             # print the commands only
    Pusher().push(steps, submit=True)            # ... and `kaggle competitions submit -k owner/slug -v N`

A dataset is versioned when `kaggle datasets status` finds it and created otherwise, both with
--dir-mode zip (each backbone or model folder becomes one zip). Before a kernel is pushed, the
datasets it mounts must be ready and the kernels whose output it mounts must have finished, else
Kaggle would attach an older version: push polls `kaggle datasets status` and `kaggle kernels
status` (skip that with wait=False). When a kernel it waits for fails, it reads the kernel's log
(`kaggle kernels logs`, the log alone) into logs_dir and prints the failing cell, the error and
the log's last lines (kernel_log.py). A kernel that attaches Kaggle Models needs a CLI that accepts their
5-part handles (1.8.3 refused them: Kaggle/kaggle-cli issue 900, fixed in 1.8.4): push stops first
with an older one.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from arenakit.core import SUBMISSION_FILE
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.built import KERNEL_METADATA, read_built
from arenakit.kaggle_build.cli import KaggleCli, KernelState, quote
from arenakit.kaggle_build.kernel_log import read_failure
from arenakit.kaggle_build.manifest import MANIFEST
from arenakit.kaggle_build.settings import COMPETITION, PLACEHOLDER_OWNER
from arenakit.pipeline import PIPELINE

_KERNEL_VERSION = re.compile(r"Kernel version (\d+) successfully pushed")
# kind -> (the status to wait for, statuses that will never reach it), lower case as the CLI prints them
_FINAL_STATES = {
    "dataset": ("ready", ("failed", "deleted")),
    "kernel": ("complete", ("error", "cancel_requested", "cancel_acknowledged")),
}
# The first kaggle CLI that accepts OWNER/MODEL/FRAMEWORK/VARIATION/VERSION in model_sources (issue 900).
MODEL_SOURCES_CLI = Version("1.8.4")


@dataclass(frozen=True)
class Step:
    kind: str  # "dataset" or "kernel"
    name: str  # folder name: the dataset slug or the notebook name
    folder: Path
    ref: str  # owner/slug
    needs: tuple = ()  # refs of the kernels whose output this kernel mounts, and the datasets it mounts
    models: tuple = ()  # the Kaggle Models it mounts (model_sources)


def plan(build_dir: Path, only: list[str] | None = None) -> list[Step]:
    """Every built dataset, then every kernel after the kernels it mounts; `only` keeps the steps named."""
    datasets = [
        Step("dataset", folder.name, folder, ref) for ref, (folder, _) in read_built(build_dir, "datasets").items()
    ]
    kernels = [
        Step(
            "kernel",
            folder.name,
            folder,
            ref,
            (*metadata.get("kernel_sources", []), *metadata.get("dataset_sources", [])),
            tuple(metadata.get("model_sources", [])),
        )
        for ref, (folder, metadata) in read_built(build_dir, "kernels").items()
    ]
    pipeline_order = {name: index for index, name in enumerate(PIPELINE)}
    kernels.sort(key=lambda step: (pipeline_order.get(step.name, len(PIPELINE)), step.name))
    if not datasets and not kernels:
        raise BuildError(
            f"nothing built under {build_dir}/datasets or {build_dir}/kernels: run `python build.py` first"
        )
    steps = datasets + _dependency_order(kernels)
    if only:
        unknown = sorted(set(only) - {step.name for step in steps})
        if unknown:
            raise BuildError(f"--only {', '.join(unknown)}: not built; built: {', '.join(s.name for s in steps)}")
        steps = [step for step in steps if step.name in only]
    return steps


def _dependency_order(kernels: list[Step]) -> list[Step]:
    ordered, pending = [], list(kernels)
    while pending:
        ready = [k for k in pending if not set(k.needs) & {p.ref for p in pending if p is not k}]
        if not ready:
            raise BuildError(f"kernel sources form a cycle: {', '.join(k.ref for k in pending)}")
        ordered += ready
        pending = [k for k in pending if k not in ready]
    return ordered


class Pusher:
    def __init__(
        self,
        dry_run: bool = False,
        wait: bool = True,
        poll_seconds: float = 30,
        timeout_seconds: float = 12 * 3600,
        message: str | None = None,
        env: dict | None = None,
        logs_dir: Path = Path("build/logs"),
    ):
        self.dry_run, self.wait, self.poll_seconds, self.timeout_seconds = dry_run, wait, poll_seconds, timeout_seconds
        self.message, self.logs_dir = message, Path(logs_dir)
        self.cli = None if dry_run else KaggleCli(env)
        self.versions: dict = {}  # kernel ref -> version number pushed
        self.settled: set = set()  # refs already waited for
        self.folders: dict = {}  # ref -> built folder, for the notebook a failing kernel ran

    def push(self, steps: list[Step], submit: bool = False) -> dict:
        if not self.dry_run:
            placeholders = [step.ref for step in steps if step.ref.startswith(PLACEHOLDER_OWNER + "/")]
            if placeholders:
                raise BuildError(
                    f"{', '.join(placeholders)}: set your Kaggle user name (the id in kernel-metadata.json, "
                    f"--owner or KAGGLE_USERNAME) and build again before pushing"
                )
            self._check_cli_takes_model_sources(steps)
        kinds, pushed = {step.ref: step.kind for step in steps}, set()
        self.folders.update({step.ref: step.folder for step in steps})
        for step in steps:
            # Only what this run pushed can be mid-processing; anything else is as Kaggle has it.
            for ref in step.needs if self.wait else ():
                if ref in pushed:
                    self._wait_until(ref, kinds[ref])
            if step.kind == "dataset":
                self._push_dataset(step)
            else:
                self._push_kernel(step)
            pushed.add(step.ref)
        if submit:
            self._submit(next((s for s in reversed(steps) if s.kind == "kernel"), None))
        return self.versions

    def _push_dataset(self, step: Step) -> None:
        base = ["-p", str(step.folder), "--dir-mode", "zip"]
        version = ["datasets", "version", *base, "-m", self.message or _version_notes(step.folder)]
        if self.dry_run:
            self._echo(["datasets", "status", step.ref], f"{step.ref}: a new version when Kaggle has it, else created")
            self._echo(version)
            self._echo(["datasets", "create", *base], "or, the first time:")
            return
        exists = self.cli.dataset_status(step.ref) is not None
        self._run(version if exists else ["datasets", "create", *base])

    def _check_cli_takes_model_sources(self, steps: list[Step]) -> None:
        with_models = [step.ref for step in steps if step.models]
        if not with_models:
            return
        version = self.cli.version()
        if version is None or version < MODEL_SOURCES_CLI:
            raise BuildError(
                f"{', '.join(with_models)} attach Kaggle Models (model_sources), which the kaggle CLI "
                f"{version or '(version unknown)'} refuses or mangles (Kaggle/kaggle-cli issue 900, fixed in "
                f"{MODEL_SOURCES_CLI}): `pip install -U 'kaggle>=2.2.5' six`, then push again"
            )

    def _push_kernel(self, step: Step) -> None:
        output = self._run(["kernels", "push", "-p", str(step.folder)])
        match = _KERNEL_VERSION.search(output or "")
        if match:
            self.versions[step.ref] = int(match.group(1))

    def _submit(self, step: Step | None) -> None:
        if step is None:
            raise BuildError("--submit: no kernel among the pushed steps to submit")
        version = self.versions.get(step.ref)
        if version is None and not self.dry_run:
            raise BuildError(f"--submit: the push of {step.ref} did not report a version number to submit")
        if self.wait:
            self._wait_until(step.ref, "kernel")
        self._run(
            [
                "competitions",
                "submit",
                COMPETITION,
                "-k",
                step.ref,
                "-v",
                str(version or "N"),
                "-f",
                SUBMISSION_FILE,
                "-m",
                self.message or f"{step.ref} version {version or 'N'}",
            ]
        )

    def _wait_until(self, ref: str, kind: str) -> None:
        if ref in self.settled:
            return
        self.settled.add(ref)
        if self.dry_run:
            self._echo([f"{kind}s", "status", ref], f"wait until {'ready' if kind == 'dataset' else 'complete'}:")
            return
        done, failed = _FINAL_STATES[kind]
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            state = self.cli.dataset_status(ref) if kind == "dataset" else self.cli.kernel_status(ref)
            if state is None:
                raise BuildError(f"{kind} {ref}: Kaggle does not find it, though this push uploaded it; push again")
            status = state if kind == "dataset" else state.status
            if status == done:
                return
            if status in failed:
                if kind == "dataset":
                    raise BuildError(f"dataset {ref} is {status} on Kaggle: open it there, fix it and push again")
                where = report_kernel_failure(self.cli, state, ref, self.logs_dir, self.folders.get(ref))
                raise BuildError(f"kernel {ref} is {status} on Kaggle{where}; fix it and push again")
            if time.monotonic() > deadline:
                raise BuildError(
                    f"{kind} {ref} still {status} after {self.timeout_seconds:.0f} s; push the rest later "
                    f"with `python build.py push --only ...`, or with --no-wait"
                )
            print(f"waiting for {kind} {ref}: {status}", flush=True)
            time.sleep(self.poll_seconds)

    def _echo(self, args: list[str], note: str = "") -> None:
        if note:
            print(f"# {note}")
        print(" ".join(quote(a) for a in ["kaggle", *args]))

    def _run(self, args: list[str]) -> str:
        if self.dry_run:
            self._echo(args)
            return ""
        return self.cli.run(args)


def report_kernel_failure(cli: KaggleCli, state: KernelState, ref: str, logs_dir: Path, folder: Path | None) -> str:
    """Read a failed kernel's log, print its failing cell, error and last lines; a clause for the error."""
    if state.failure_message:
        print(f"{ref}: Kaggle says: {state.failure_message}")
    try:
        log = cli.kernel_log(ref, logs_dir)
    except BuildError as error:
        return f" (its log could not be read: {error}); open it on Kaggle for the log"
    if log is None:
        return " and left no log; open it on Kaggle"
    notebook = None
    if folder is not None and (folder / KERNEL_METADATA).is_file():
        notebook = folder / json.loads((folder / KERNEL_METADATA).read_text())["code_file"]
    failure = read_failure(log, notebook)
    print(f"{ref} failed on Kaggle:\n{failure.describe()}", flush=True)
    cell = f"in cell In [{failure.cell}]" if failure.cell is not None else "(no failing cell named in its log)"
    return f" {cell}: {failure.error or 'see the log'} (the log is in {log}; its end is printed above)"


def _version_notes(folder: Path) -> str:
    manifest = json.loads((folder / MANIFEST).read_text())
    commit = (manifest.get("git_commit") or "no commit")[:12]
    return f"arenakit {manifest['arenakit_version']} at {commit}{' (dirty tree)' if manifest['git_dirty'] else ''}"
