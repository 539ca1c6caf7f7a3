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

from arenakit.core.artifacts import FOLDS_DIR, model_dir
from arenakit.core.paths import iter_input_dirs, kaggle_input_root

# The checks of a model folder live in the pipeline layer, which per-fold predictions also use.
from arenakit.pipeline.model_folder import MARKER_FILES, is_model_folder, saved_folds

__all__ = ["MARKER_FILES", "candidate_folders", "find_model_folder", "is_model_folder", "saved_folds", "where_searched"]


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
