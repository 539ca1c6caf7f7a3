"""Whether a saved model folder is whole: the record its save wrote last, and the files that record vouches for.

    start_save(folder)                    # complete.json says "unfinished" before anything else is written
    ... write oof.csv, test.csv, metrics.json, folds/fold_k/ (each through arenakit.core.atomic) ...
    finish_save(folder, written)          # complete.json: the sha256 of every file the save wrote
    vouched = check_complete(folder)      # ArtifactError naming the file when the folder is not whole

Each file is replaced atomically (arenakit.core.atomic), but a crash between two files leaves new
ones beside old ones: a new oof.csv with the old metrics and fold models would blend one model's
out-of-fold predictions with another's test predictions. So a save first marks the folder
unfinished, and marks it complete only after its last file, with the hashes of all of them; a
reader uses a folder only when every hash agrees, and then only the files the record names.

A folder saved before the kit wrote records (no complete.json at all) cannot be proven whole:
check_complete returns None for it and says so in one line; callers decide (the ensemble uses it
as before, the dataset build refuses it, since an upload must hold only what the kit wrote).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from arenakit.core.artifacts import FOLDS_DIR, read_json
from arenakit.core.atomic import write_json
from arenakit.core.checksums import sha256
from arenakit.core.errors import ArtifactError

COMPLETE_FILE = "complete.json"
RERUN = "run its notebook again (finished fold models are reused), or copy the whole folder again"


def file_hashes(folder: Path, paths: Iterable[Path]) -> dict[str, str]:
    """{path relative to folder (posix): sha256} for files under folder."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): sha256(path) for path in sorted(set(map(Path, paths)))}


def check_hashes(folder: Path, hashes: dict, record: Path) -> None:
    """ArtifactError naming the first file that is missing or differs from what `record` says."""
    for name, expected in hashes.items():
        path = Path(folder) / name
        if not path.is_file():
            raise ArtifactError(f"{path}: missing, though {record} lists it: the folder is incomplete; {RERUN}")
        if sha256(path) != expected:
            raise ArtifactError(
                f"{path}: differs from what {record} recorded when it was saved (a later save was interrupted, "
                f"or the file was changed): the folder mixes two saves; {RERUN}"
            )


def start_save(folder: Path) -> None:
    """Mark the folder unfinished before its save writes anything: a crash from here on leaves it refused."""
    write_json(Path(folder) / COMPLETE_FILE, {"complete": False}, indent=2)


def finish_save(folder: Path, written: Iterable[Path]) -> None:
    """The last write of a save: the sha256 of every file the save wrote."""
    folder = Path(folder)
    write_json(folder / COMPLETE_FILE, {"complete": True, "files": file_hashes(folder, written)}, indent=2)


def check_complete(folder: Path) -> list[str] | None:
    """The files (relative paths) a whole model folder's record vouches for; None for a folder saved
    without records (an older kit); ArtifactError naming the file when it is unfinished or mixed."""
    folder = Path(folder)
    record = folder / COMPLETE_FILE
    if not record.is_file():
        print(
            f"{folder}: no {COMPLETE_FILE} (saved by an older arenakit): it cannot be checked for a half-finished save"
        )
        return None
    value = read_json(record, "a model folder's completion record")
    hashes = value.get("files")
    if value.get("complete") is not True or not isinstance(hashes, dict):
        raise ArtifactError(f"{record}: the save of this model folder did not finish (it was interrupted); {RERUN}")
    check_hashes(folder, hashes, record)
    saved_folds = {Path(name).parts[1] for name in hashes if name.startswith(f"{FOLDS_DIR}/")}
    present = {path.name for path in (folder / FOLDS_DIR).glob("fold_*")}
    if present - saved_folds:
        raise ArtifactError(
            f"{folder / FOLDS_DIR}: {', '.join(sorted(present - saved_folds))} not part of the save {record} "
            f"records (a fold of another run?): move it out, or {RERUN}"
        )
    return sorted(hashes)
