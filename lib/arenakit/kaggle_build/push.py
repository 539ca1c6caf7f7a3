"""Upload the built datasets and kernels with the real kaggle CLI, in dependency order.

    steps = plan(Path("build"))                  # datasets, training kernels, then the submission kernel
    Pusher(dry_run=True).push(steps)             # print the commands only
    Pusher().push(steps, submit=True)            # ... and `kaggle competitions submit -k owner/slug -v N`

A dataset is versioned when `kaggle datasets status` finds it and created otherwise, both with
--dir-mode zip (each backbone folder becomes one zip). Before a kernel is pushed, the datasets it
mounts must be ready and the kernels whose output it mounts must have finished, else Kaggle would
attach an older version: push polls `kaggle datasets status` and `kaggle kernels status` (skip that
with wait=False). The CLI prints some failures and still exits 0, so its output is checked too.
Credentials are the CLI's business (KAGGLE_USERNAME/KAGGLE_KEY or ~/.kaggle); nothing here reads them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.built import read_built
from arenakit.kaggle_build.manifest import MANIFEST
from arenakit.kaggle_build.settings import COMPETITION, PLACEHOLDER_OWNER
from arenakit.pipeline import PIPELINE
from arenakit.schema import SUBMISSION_FILE

_FAILED_OUTPUT = re.compile(r"\berror\b|not valid \w+ sources", re.IGNORECASE)
_PROGRESS_BAR = re.compile(r"\d+%\|.*\|")  # the CLI's upload bars: noise once the output is captured
_KERNEL_VERSION = re.compile(r"Kernel version (\d+) successfully pushed")
_KERNEL_STATUS = re.compile(r'has status "(?:\w+\.)?(\w+)"')
# kind -> (the status to wait for, statuses that will never reach it), lower case as the CLI prints them
_FINAL_STATES = {
    "dataset": ("ready", ("failed", "deleted")),
    "kernel": ("complete", ("error", "cancel_requested", "cancel_acknowledged")),
}


@dataclass(frozen=True)
class Step:
    kind: str  # "dataset" or "kernel"
    name: str  # folder name: the dataset slug or the notebook name
    folder: Path
    ref: str  # owner/slug
    needs: tuple = ()  # refs of the kernels whose output this kernel mounts, and the datasets it mounts


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


def kaggle_command() -> list[str]:
    """The kaggle CLI beside this Python (its venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "kaggle"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("kaggle")
    if found:
        return [found]
    raise BuildError(
        "the kaggle CLI is not installed: `pip install kaggle six` (kaggle 2.2 imports six without "
        "declaring it), then put your credentials in ~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY"
    )


class Pusher:
    def __init__(
        self,
        dry_run: bool = False,
        wait: bool = True,
        poll_seconds: float = 30,
        timeout_seconds: float = 12 * 3600,
        message: str | None = None,
        env: dict | None = None,
    ):
        self.dry_run, self.wait, self.poll_seconds, self.timeout_seconds = dry_run, wait, poll_seconds, timeout_seconds
        self.message, self.env = message, env
        self.cli = ["kaggle"] if dry_run else kaggle_command()
        self.versions: dict = {}  # kernel ref -> version number pushed
        self.settled: set = set()  # refs already waited for

    def push(self, steps: list[Step], submit: bool = False) -> dict:
        if not self.dry_run:
            placeholders = [step.ref for step in steps if step.ref.startswith(PLACEHOLDER_OWNER + "/")]
            if placeholders:
                raise BuildError(
                    f"{', '.join(placeholders)}: set your Kaggle user name (the id in kernel-metadata.json, "
                    f"--owner or KAGGLE_USERNAME) and build again before pushing"
                )
        kinds, pushed = {step.ref: step.kind for step in steps}, set()
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
        exists = self._dataset_status(step.ref) is not None
        self._run(version if exists else ["datasets", "create", *base])

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

    def _dataset_status(self, ref: str) -> str | None:
        """The dataset's status ("ready", ...), or None when Kaggle has no such dataset."""
        completed = subprocess.run([*self.cli, "datasets", "status", ref], capture_output=True, text=True, env=self.env)
        output = completed.stdout + completed.stderr
        if completed.returncode != 0:
            if "404" in output or "not found" in output.lower():
                return None
            raise BuildError(f"`kaggle datasets status {ref}` failed:\n{output.strip()}")
        return output.strip().splitlines()[-1].strip().lower()

    def _kernel_status(self, ref: str) -> str:
        output = self._run(["kernels", "status", ref], quiet=True)
        match = _KERNEL_STATUS.search(output)
        if not match:
            raise BuildError(f"`kaggle kernels status {ref}` printed no status:\n{output.strip()}")
        return match.group(1).lower()

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
            status = self._dataset_status(ref) if kind == "dataset" else self._kernel_status(ref)
            if status == done:
                return
            if status in failed:
                raise BuildError(
                    f"{kind} {ref} is {status} on Kaggle: open it there for the log, fix it and push again"
                )
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
        print(" ".join(_quote(a) for a in [*self.cli, *args]))

    def _run(self, args: list[str], quiet: bool = False) -> str:
        if self.dry_run:
            self._echo(args)
            return ""
        if not quiet:
            print("+ " + " ".join(_quote(a) for a in ["kaggle", *args]), flush=True)
        completed = subprocess.run([*self.cli, *args], capture_output=True, text=True, env=self.env)
        output = completed.stdout + completed.stderr
        shown = [line for line in output.splitlines() if line.strip() and not _PROGRESS_BAR.search(line)]
        if not quiet and shown:
            print("\n".join(shown))
        failed = [line for line in output.splitlines() if _FAILED_OUTPUT.search(line)]
        if completed.returncode != 0 or failed:
            raise BuildError(
                f"`kaggle {' '.join(args[:2])}` failed (exit {completed.returncode}): "
                f"{(failed or output.strip().splitlines() or ['no output'])[-1]}"
            )
        return output


def _version_notes(folder: Path) -> str:
    manifest = json.loads((folder / MANIFEST).read_text())
    commit = (manifest.get("git_commit") or "no commit")[:12]
    return f"arenakit {manifest['arenakit_version']} at {commit}{' (dirty tree)' if manifest['git_dirty'] else ''}"


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./:=@,+-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
