"""One folder per model run, the contract between the model notebooks and the ensemble.

<out_dir>/<model>/oof.csv        id + the three class columns, every train row once
<out_dir>/<model>/test.csv       id + the three class columns, every test row once
<out_dir>/<model>/oof_one_order.csv, oof_swapped.csv
                                 a swap-averaged model's two orders apart (the swapped pass mapped back to
                                 A/B order; oof.csv is their mean): what a cascade's swapped stage is fitted on
<out_dir>/<model>/metrics.json   at least oof_log_loss; the full evaluate() report and fold scores
<out_dir>/<model>/folds/fold_k/  the fold models (load with FoldEnsemble.load)
<out_dir>/<model>/plots/         confusion matrix, reliability diagram, loss by length, ...
<out_dir>/<model>/complete.json  written last by the save: the sha256 of every file above but the plots
                                 (arenakit.core.completion); without it, or disagreeing, the folder is not used
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.atomic import write_csv, write_json
from arenakit.core.errors import ArtifactError, examples
from arenakit.core.probabilities import probability_row_problems
from arenakit.core.schema import CLASS_COLUMNS, N_CLASSES

OOF_FILE = "oof.csv"
TEST_FILE = "test.csv"
ORDER_FILES = ("oof_one_order.csv", "oof_swapped.csv")
METRICS_FILE = "metrics.json"
FOLDS_DIR = "folds"
PLOTS_DIR = "plots"


def model_dir(out_dir: Path | str, name: str) -> Path:
    return Path(out_dir) / name


def proba_frame(ids, proba: np.ndarray) -> pd.DataFrame:
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (len(ids), len(CLASS_COLUMNS)):
        raise ValueError(f"expected predictions of shape ({len(ids)}, {N_CLASSES}), got {proba.shape}")
    frame = pd.DataFrame(proba, columns=list(CLASS_COLUMNS))
    frame.insert(0, "id", np.asarray(ids))
    return frame


def save_predictions(path: Path, ids, proba: np.ndarray) -> Path:
    return write_csv(path, proba_frame(ids, proba), index=False, float_format="%.8g")


def load_prediction_frame(path: Path) -> pd.DataFrame:
    """A predictions CSV as a frame indexed by id, checked; it may hold any subset of the rows.

    A model that trained only some folds writes out-of-fold predictions for those folds' rows
    only, so callers intersect ids here.
    """
    redo = "Re-run that model's notebook."
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path}: not a readable predictions CSV ({error}). {redo}") from None
    missing = [column for column in ("id", *CLASS_COLUMNS) if column not in frame.columns]
    if missing:
        raise ArtifactError(
            f"{path}: no column(s) {', '.join(missing)}; expected id and {', '.join(CLASS_COLUMNS)}. {redo}"
        )
    ids = pd.to_numeric(frame["id"], errors="coerce")
    values = frame[list(CLASS_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    problems = []
    not_ids = frame.index[ids.isna() | (ids != ids.round())]
    if len(not_ids):
        problems.append(f"{len(not_ids)} id(s) that are not integers (lines {examples(not_ids + 2)})")
    duplicated = frame["id"][frame["id"].duplicated()]
    if len(duplicated):
        problems.append(f"{len(duplicated)} duplicated id(s): {examples(duplicated)}")
    # The rules predict_proba is held to: a row the blend cannot use is named here, not deep in the blend.
    for bad, what in probability_row_problems(values):
        if bad.any():
            problems.append(f"{int(bad.sum())} row(s) whose probabilities {what} (ids {examples(frame['id'][bad])})")
    if problems:
        raise ArtifactError(f"{path}: {'; '.join(problems)}. {redo}")
    frame = frame.assign(id=ids.astype("int64"))
    return frame.set_index("id")[list(CLASS_COLUMNS)].astype(float)


def save_metrics(folder: Path, metrics: dict) -> Path:
    return write_json(folder / METRICS_FILE, metrics, indent=2, allow_nan=False)


def load_metrics(folder: Path) -> dict:
    return read_json(Path(folder) / METRICS_FILE, "a model's metrics")


def read_json(path: Path, what: str, remedy: str = "copy it again, or rerun what wrote it") -> dict:
    """A JSON object from a file the kit wrote; an error naming the file and the remedy when it is damaged."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(
            f"{path}: not readable as {what} ({error}); the file was edited or truncated: {remedy}"
        ) from None
    if not isinstance(value, dict):
        raise ArtifactError(f"{path}: {what} must be a JSON object, found {type(value).__name__}; {remedy}")
    return value


def load_arrays(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Named arrays from an .npz file the kit wrote (no pickles); an error naming the file when it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise ArtifactError(
                    f"{path}: no array(s) {', '.join(missing)}; the file is not the kit's or was edited"
                )
            return {key: archive[key] for key in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, ArtifactError):
            raise
        raise ArtifactError(
            f"{path}: not a readable array file ({error}); copy the model folder again, or retrain"
        ) from None
