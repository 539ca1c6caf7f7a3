"""The kaggle CLI, run as a program: `import kaggle` authenticates at import time, so nothing here imports it.

    cli = KaggleCli()                            # the kaggle beside this Python (its venv), else the one on PATH
    cli.run(["kernels", "push", "-p", folder])   # its output; BuildError when it fails
    cli.dataset_status("owner/slug")             # "ready", ..., or None when Kaggle has no such dataset
    cli.kernel_status("owner/slug")              # KernelState("error", "the failure message"), or None
    cli.kernel_log("owner/slug", Path("build/logs"))   # the log `kaggle kernels logs` printed, saved; or None
    cli.version()                                # Version("2.2.5")

The CLI prints some failures and still exits 0, so its output is checked too. Credentials are
the CLI's business (KAGGLE_USERNAME/KAGGLE_KEY or ~/.kaggle); nothing here reads them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from arenakit.kaggle_build import BuildError

_FAILED_OUTPUT = re.compile(r"\berror\b|not valid \w+ sources", re.IGNORECASE)
_PROGRESS_BAR = re.compile(r"\d+%\|.*\|")  # the CLI's upload bars: noise once the output is captured
_KERNEL_STATUS = re.compile(r'has status "(?:\w+\.)?(\w+)"')
_FAILURE_MESSAGE = re.compile(r'^Failure message: "(.*)"$', re.MULTILINE)


@dataclass(frozen=True)
class KernelState:
    status: str  # lower case: "queued", "running", "complete", "error", ...
    failure_message: str = ""


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


def quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./:=@,+-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


def _not_found(output: str) -> bool:
    return "404" in output or "not found" in output.lower()


class KaggleCli:
    def __init__(self, env: dict | None = None):
        self.command = kaggle_command()
        self.env = env

    def _call(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, *args], capture_output=True, text=True, env=self.env)

    def run(self, args: list[str], quiet: bool = False) -> str:
        """Run `kaggle ARGS`; print the command and its output unless quiet; BuildError when it fails."""
        if not quiet:
            print("+ " + " ".join(quote(a) for a in ["kaggle", *args]), flush=True)
        completed = self._call(args)
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

    def dataset_status(self, ref: str) -> str | None:
        """The dataset's status ("ready", ...), or None when Kaggle has no such dataset."""
        completed = self._call(["datasets", "status", ref])
        output = completed.stdout + completed.stderr
        if completed.returncode != 0:
            if _not_found(output):
                return None
            raise BuildError(f"`kaggle datasets status {ref}` failed:\n{output.strip()}")
        return output.strip().splitlines()[-1].strip().lower()

    def kernel_status(self, ref: str) -> KernelState | None:
        """The latest version's status and failure message, or None when Kaggle has no such kernel."""
        completed = self._call(["kernels", "status", ref])
        output = completed.stdout + completed.stderr
        match = _KERNEL_STATUS.search(output)
        if completed.returncode != 0 or not match:
            if completed.returncode != 0 and _not_found(output):
                return None
            raise BuildError(f"`kaggle kernels status {ref}` printed no status:\n{output.strip()}")
        message = _FAILURE_MESSAGE.search(output)
        return KernelState(match.group(1).lower(), message.group(1) if message else "")

    def kernel_log(self, ref: str, folder: Path) -> Path | None:
        """The latest run's log, from `kaggle kernels logs REF`, saved in folder as <slug>.log; None when Kaggle has none.

        `kernels logs` (CLI 2.0.2 and later) prints the log and nothing else, so a training kernel's
        output files (gigabytes of model folders) are never listed or fetched for it.
        """
        folder = Path(folder)
        log = folder / f"{ref.rpartition('/')[2]}.log"
        log.unlink(missing_ok=True)  # an older run's log must not pass for this one's
        # Not self.run: a log full of tracebacks would read as the CLI failing; only its exit status counts.
        completed = self._call(["kernels", "logs", ref])
        if completed.returncode != 0:
            lines = (completed.stdout + completed.stderr).strip().splitlines() or ["no output"]
            raise BuildError(f"`kaggle kernels logs {ref}` failed (exit {completed.returncode}): {lines[0]}")
        text = completed.stdout.removesuffix("\n")  # the CLI prints the log and one newline
        if not text.strip():
            return None
        folder.mkdir(parents=True, exist_ok=True)
        log.write_text(text, encoding="utf-8")
        return log

    def version(self) -> Version | None:
        """The CLI's version ("Kaggle CLI 2.2.5", "Kaggle API 1.8.3"), None when it does not say."""
        words = (self._call(["--version"]).stdout.strip().split() or [""])[-1]
        try:
            return Version(words)
        except InvalidVersion:
            return None
