"""Copying into a dataset: only regular files that lie inside the source folder, never what a link points at.

    files = regular_files(folder)                 # every file below folder; BuildError at the first link
    copy_file(source, target, boundary=folder)    # one file, refused when it is a link or leads outside

A dataset is uploaded to Kaggle by `build.py push`: a link in a run folder (plots/x.png ->
~/.kaggle/kaggle.json) would put the outside file's contents into it. So a link is refused,
naming the link and its target, whatever it points at: the user replaces it by the file it
stands for, or removes it. The one exception is the Hugging Face cache, whose snapshot folders
are links into the same model's blobs/ (link_root=the model's cache folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from arenakit.kaggle_build import BuildError


def _link_error(path: Path) -> BuildError:
    return BuildError(
        f"{path}: a link to {os.readlink(path)} (resolving to {path.resolve()}); a dataset carries only files the "
        f"kit wrote, never what a link points at: replace the link by the file itself, or remove it, and build again"
    )


def check_inside(path: Path, boundary: Path, link_root: Path | None = None) -> None:
    """BuildError when path, or a folder between boundary and path, is a link (unless it resolves inside
    link_root), or when path resolves outside boundary (link_root)."""
    path, boundary = Path(path), Path(boundary)
    inside = (link_root if link_root is not None else boundary).resolve()
    part = boundary
    for name in path.relative_to(boundary).parts:  # ValueError for a path not below boundary: a caller's bug
        part = part / name
        if part.is_symlink() and (link_root is None or not part.resolve().is_relative_to(inside)):
            raise _link_error(part)
    if not path.resolve().is_relative_to(inside):
        raise BuildError(
            f"{path}: resolves to {path.resolve()}, outside {boundary}; a dataset carries only files inside the "
            f"folder it is built from: move the file in, and build again"
        )


def regular_files(folder: Path, link_root: Path | None = None) -> list[Path]:
    """Every file below folder, sorted, without following links; BuildError naming the first link found."""
    folder = Path(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs) + sorted(files):
            path = Path(root) / name
            if path.is_symlink():
                check_inside(path, folder, link_root)
                if link_root is None:
                    raise _link_error(path)
            if path.is_file() and name in files:
                found.append(path)
    return sorted(found)


def copy_file(source: Path, target: Path, boundary: Path, link_root: Path | None = None) -> Path:
    """Copy one file's contents (never a link) into target, after checking it lies inside boundary."""
    check_inside(Path(source), boundary, link_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(source).resolve(), target)
    shutil.copystat(Path(source).resolve(), target)
    return target


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (links not followed)."""
    path = Path(path)
    if path.is_file() and not path.is_symlink():
        return path.stat().st_size
    if not path.is_dir() or path.is_symlink():
        return 0
    return sum((Path(root) / name).lstat().st_size for root, _, files in os.walk(path) for name in files)
