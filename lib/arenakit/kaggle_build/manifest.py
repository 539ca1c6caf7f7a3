"""Where a dataset came from: the git commit, whether the tree was dirty, and the sha256 of every file.

    state = source_state(ROOT)                   # SourceState(commit="3f2c...", dirty=False)
    require_clean(state, allow_dirty=False)      # BuildError naming the changed files when dirty
    write_manifest(folder, state)                # folder/manifest.json (checked at load: arenakit.core.checksums)

A dataset built from uncommitted changes cannot be traced back to a commit, so building one from a
dirty tree (untracked files included; ignored ones are not) is refused unless --allow-dirty, and
the manifest records the dirty flag either way.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from arenakit import __version__
from arenakit.core import MANIFEST, examples, sha256, write_json
from arenakit.inputs import FORMATTER_VERSION
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.built import DATASET_METADATA


@dataclass(frozen=True)
class SourceState:
    commit: str | None  # None outside a git checkout
    dirty: bool
    changed: tuple = ()  # paths git reports as modified or untracked


def source_state(root: Path) -> SourceState:
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return SourceState(None, True)
    status = git("status", "--porcelain", "--untracked-files=all")
    changed = tuple(line[3:] for line in status.stdout.splitlines() if line.strip())
    return SourceState(head.stdout.strip(), bool(changed), changed)


def require_clean(state: SourceState, allow_dirty: bool) -> None:
    if allow_dirty or not state.dirty:
        return
    if state.commit is None:
        raise BuildError(
            "not a git checkout: a dataset's manifest could not name the commit it was built from; "
            "build from a clone, or pass --allow-dirty"
        )
    raise BuildError(
        f"the working tree has uncommitted changes ({examples(state.changed)}): commit them so the "
        f"datasets' manifests name the code they hold, or pass --allow-dirty"
    )


def write_manifest(folder: Path, state: SourceState) -> Path:
    """manifest.json for every file under folder (but itself and the dataset metadata)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name not in (MANIFEST, DATASET_METADATA))
    manifest = {
        "git_commit": state.commit,
        "git_dirty": state.dirty,
        "arenakit_version": __version__,
        "formatter_version": FORMATTER_VERSION,
        "files": {p.relative_to(folder).as_posix(): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in files},
    }
    return write_json(Path(folder) / MANIFEST, manifest, indent=2)
