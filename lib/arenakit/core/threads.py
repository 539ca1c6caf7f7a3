"""The cores a notebook may use now, when notebooks run side by side and share the machine.

    follow_thread_share()          # between batches: torch takes this kernel's current share
    threads_now()                  # its share (None outside a shared run: keep the library's default)

The runner (arenakit.kaggle_build.runner) writes a small JSON file in the run folder, {notebook
name: threads}, and rewrites it each time a notebook of the stage finishes, so the cores it used
go to the ones still running. Each kernel learns the file and its own name from the environment
(SHARE_FILE_ENV, SHARE_NAME_ENV). A thread count fixed when a kernel starts (OMP_NUM_THREADS)
would leave the finished notebook's cores idle; torch.set_num_threads and LightGBM's num_threads
take a new count at any call, so a loop asks between batches.

Cheap enough to call per batch: reading a file of a few dozen bytes takes tens of microseconds,
against tens of milliseconds or more for a batch (a cache keyed by mtime could miss a rewrite of
the same size within one clock tick). A missing, half-written or foreign file means "no share": the caller keeps what it
has, never an error, since the share only tunes speed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from arenakit.core.atomic import write_json

SHARE_FILE_ENV = "ARENAKIT_THREAD_SHARE"
SHARE_NAME_ENV = "ARENAKIT_THREAD_SHARE_NAME"


def split_cores(cores: int, names: list[str]) -> dict[str, int]:
    """cores shared out among names as evenly as whole threads allow (the first get the remainder), at least 1 each."""
    if not names:
        return {}
    base, extra = divmod(max(cores, 1), len(names))
    return {name: max(1, base + (index < extra)) for index, name in enumerate(names)}


def write_thread_share(path: Path | str, shares: dict[str, int]) -> None:
    """Publish each live notebook's thread count (replaced in one step: a reader sees the old file or the new)."""
    write_json(Path(path), {name: int(threads) for name, threads in shares.items()})


def threads_now() -> int | None:
    """This kernel's current share of the cores, or None when no runner shares them."""
    path, name = os.environ.get(SHARE_FILE_ENV), os.environ.get(SHARE_NAME_ENV)
    if not path or not name:
        return None
    try:
        shares = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    threads = shares.get(name) if isinstance(shares, dict) else None
    return threads if isinstance(threads, int) and threads > 0 else None


def follow_thread_share() -> int | None:
    """Set torch's thread count to this kernel's share when the share changed; return the share (None: none)."""
    threads = threads_now()
    if threads is not None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return threads
