"""A trained model's folder, checked: its marker files, and the fold models it holds.

    is_model_folder(folder)            # metrics.json, oof.csv and folds/ are there
    saved_folds(folder, metrics)       # the fold numbers, checked against metrics.json's folds_trained

One check for everything that loads a run's fold models: the ensemble, `build.py datasets`, and
per-fold (teacher) predictions (arenakit.pipeline.fold_predictions).
"""

from __future__ import annotations

from pathlib import Path

from arenakit.core.artifacts import FOLDS_DIR, METRICS_FILE, OOF_FILE
from arenakit.core.errors import ArtifactError
from arenakit.models.base import FOLD_PREFIX, MODEL_FILE, fold_folders

MARKER_FILES = (METRICS_FILE, OOF_FILE)


def is_model_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MARKER_FILES) and (folder / FOLDS_DIR).is_dir()


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
