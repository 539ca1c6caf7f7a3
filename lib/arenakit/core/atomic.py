"""Every artifact the kit writes goes through here: written beside its place, flushed to disk, then renamed into it.

    write_text(path, text)                 write_json(path, value)
    write_csv(path, frame, index=False)    write_npz(path, coef=..., intercept=...)
    write_with(path, lambda tmp: booster.save_model(str(tmp)))        # a library that writes a file by name
    write_folder(path, lambda tmp: model.save_pretrained(str(tmp)))   # ... or a whole folder
    with recording_writes() as written: ...                           # the paths committed in the block

A rename within one folder replaces a file in one step (POSIX), so a reader, or a crash, finds the
old file or the new one, never half of one. The data is fsynced before the rename and the folder
after it, so a power cut cannot reorder them either. What a crash can still leave is a mix of
whole files, some new and some old: each save therefore writes a completion record last
(arenakit.core.completion), and readers trust only files that record vouches for.

A crash leaves the temporary (.tmp-<pid>-<name>) behind; the next write of that name removes it.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_TEMPORARY = ".tmp-{pid}-{name}"
_recorders: list[list[Path]] = []


def temporary_path(path: Path) -> Path:
    return path.with_name(_TEMPORARY.format(pid=os.getpid(), name=path.name))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_stale_temporaries(path: Path) -> None:
    """Temporaries of this name that a killed process left (any pid): they were never renamed into place."""
    for stale in path.parent.glob(_TEMPORARY.format(pid="*", name=glob.escape(path.name))):
        _remove(stale)


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries (and every file below it), to disk."""
    if path.is_dir():
        for root, _, files in os.walk(path):
            for name in files:
                fsync_path(Path(root) / name)
            _fsync_fd(Path(root), os.O_RDONLY)
    else:
        _fsync_fd(path, os.O_RDONLY)


def _fsync_fd(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _commit(temporary: Path, path: Path) -> None:
    """The one step that makes a write visible: rename the flushed temporary over path, then flush the folder.

    Tests that kill a save at each write point patch this function and _commit_removal
    (tests/crash_worker.py).
    """
    os.replace(temporary, path)
    _fsync_fd(path.parent, os.O_RDONLY)


def _commit_removal(path: Path) -> None:
    path.unlink()
    _fsync_fd(path.parent, os.O_RDONLY)


def _record(path: Path) -> None:
    written = [p for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [path]
    for recorder in _recorders:
        recorder.extend(written)


def write_with(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Let `write` write the file at a temporary path beside `path`, then flush and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    temporary = temporary_path(path)
    try:
        write(temporary)
        fsync_path(temporary)
        _commit(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    _record(path)
    return path


def write_folder(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Let `write` fill a temporary folder beside `path` (a library's save_pretrained), then rename it into place.

    An existing folder is moved aside first and removed after: a crash between the two renames
    leaves no folder at `path`, which the completion record then reports as missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    temporary = temporary_path(path)
    previous = path.with_name(_TEMPORARY.format(pid=os.getpid(), name=f"{path.name}.old"))
    try:
        temporary.mkdir()
        write(temporary)
        fsync_path(temporary)
        if path.exists():
            os.replace(path, previous)
        _commit(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    _remove(previous)
    _record(path)
    return path


def write_bytes(path: Path | str, data: bytes) -> Path:
    return write_with(path, lambda temporary: temporary.write_bytes(data))


def write_text(path: Path | str, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, value, **dumps) -> Path:
    """value as JSON (json.dumps keyword arguments, e.g. indent=2 or allow_nan=False)."""
    return write_text(path, json.dumps(value, **dumps))


def write_csv(path: Path | str, frame, **to_csv) -> Path:
    return write_with(path, lambda temporary: frame.to_csv(temporary, **to_csv))


def write_npz(path: Path | str, **arrays) -> Path:
    def save(temporary: Path) -> None:
        with open(temporary, "wb") as handle:  # a file object: np.savez would append .npz to a name
            np.savez(handle, **arrays)

    return write_with(path, save)


def remove(path: Path | str) -> None:
    """Delete a file and flush its folder: a record removed before a save stays removed after a crash."""
    path = Path(path)
    if path.exists():
        _commit_removal(path)


@contextmanager
def recording_writes() -> Iterator[list[Path]]:
    """The files written through this module inside the block (a folder counts as the files in it)."""
    written: list[Path] = []
    _recorders.append(written)
    try:
        yield written
    finally:
        _recorders.remove(written)
