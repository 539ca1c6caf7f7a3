"""Where a trained model's folder is: the local run folder, or a Kaggle input mount found by its files.

    find_model_folder("baseline", out_dir)   # <out_dir>/baseline, else the first match under the input root

A model folder is named after its model and holds metrics.json, oof.csv and folds/ (the
artifacts contract of arenakit.core.artifacts). On Kaggle the training kernels' outputs and the
model datasets mount under the input root at depths that depend on the image
(/kaggle/input/<slug>/<model>/, /kaggle/input/notebooks/<owner>/<slug>/<model>/), so they are
found by those files, never by a fixed path.
"""

from __future__ import annotations

from pathlib import Path

from arenakit.core.artifacts import FOLDS_DIR, METRICS_FILE, OOF_FILE, model_dir
from arenakit.core.errors import ArtifactError
from arenakit.core.paths import iter_input_dirs, kaggle_input_root
from arenakit.models.base import FOLD_PREFIX, MODEL_FILE, fold_folders

MARKER_FILES = (METRICS_FILE, OOF_FILE)


def is_model_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MARKER_FILES) and (folder / FOLDS_DIR).is_dir()


def candidate_folders(name: str, out_dir: Path | str, root: Path | None = None) -> list[Path]:
    """Every folder that holds this model's artifacts: the run folder's first, then the input root's, shallowest first."""
    local = model_dir(out_dir, name)
    found = [local.resolve()] if is_model_folder(local) else []
    for folder in iter_input_dirs(MARKER_FILES, root):
        if folder.name == name and is_model_folder(folder) and folder.resolve() not in found:
            found.append(folder.resolve())
    return found


def find_model_folder(name: str, out_dir: Path | str, root: Path | None = None) -> Path | None:
    """The folder to use for this model, or None when neither the run folder nor the input root has one."""
    return next(iter(candidate_folders(name, out_dir, root)), None)


def where_searched(name: str, out_dir: Path | str) -> str:
    """For messages: the places find_model_folder looked in."""
    return (
        f"{model_dir(out_dir, name).resolve()} and folders named {name!r} holding "
        f"{', '.join(MARKER_FILES)} and {FOLDS_DIR}/ under {kaggle_input_root()}"
    )


def saved_folds(folder: Path, metrics: dict) -> list[int]:
    """The folds whose models folder/folds/ holds, checked against the folds metrics.json names.

    One check for the ensemble and `build.py datasets`: the fold folders are those FoldEnsemble
    loads (fold_folders: stray fold_* entries and links leading out are refused), each holds a
    saved model, and they are exactly the folds metrics.json says were trained (its out-of-fold
    rows and scores are theirs). A missing fold would otherwise be averaged away silently, and a
    stray one averaged in. ArtifactError (FileNotFoundError without any fold) naming what to do.
    """
    folder = Path(folder)
    found = fold_folders(folder / FOLDS_DIR)
    unfinished = [path.name for path in found.values() if not (path / MODEL_FILE).is_file()]
    if unfinished:
        described = ", ".join(f"{name} (no {MODEL_FILE}: its training did not finish)" for name in unfinished)
        raise ArtifactError(
            f"{folder / FOLDS_DIR}: {described}; finish training that model (its rerun resumes), or leave it out"
        )
    folds = sorted(found)
    recorded = metrics.get("folds_trained")
    if recorded is None:
        return folds
    recorded = sorted(int(k) for k in recorded)
    missing = [k for k in recorded if k not in folds]
    stray = [k for k in folds if k not in recorded]
    if missing:
        raise ArtifactError(
            f"{folder / METRICS_FILE} names folds {recorded} but {folder / FOLDS_DIR} holds folds {folds}: "
            f"{', '.join(f'{FOLD_PREFIX}{k}' for k in missing)} is missing (a partial copy, or a fold folder "
            "deleted). Copy the model folder again from where it was trained, or rerun its training, which "
            "trains the missing fold and reuses the saved ones"
        )
    if stray:
        raise ArtifactError(
            f"{folder / METRICS_FILE} names folds {recorded} but {folder / FOLDS_DIR} holds folds {folds}: "
            f"the folder mixes two runs; delete the stray fold folders "
            f"({', '.join(f'{FOLD_PREFIX}{k}' for k in stray)}) or train again into a fresh folder"
        )
    return folds
