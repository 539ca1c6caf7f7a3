"""One folder per model run, the contract between the model notebooks and the ensemble.

<out_dir>/<model>/oof.csv        id + the three class columns, every train row once
<out_dir>/<model>/test.csv       id + the three class columns, every test row once
<out_dir>/<model>/metrics.json   at least oof_log_loss; the full evaluate() report and fold scores
<out_dir>/<model>/folds/fold_k/  the fold models (load with FoldEnsemble.load)
<out_dir>/<model>/plots/         confusion matrix, reliability diagram, loss by length, ...
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.errors import counted, join_present
from arenakit.schema import CLASS_COLUMNS

OOF_FILE = "oof.csv"
TEST_FILE = "test.csv"
METRICS_FILE = "metrics.json"
FOLDS_DIR = "folds"
PLOTS_DIR = "plots"


def model_dir(out_dir: Path | str, name: str) -> Path:
    return Path(out_dir) / name


def proba_frame(ids, proba: np.ndarray) -> pd.DataFrame:
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (len(ids), len(CLASS_COLUMNS)):
        raise ValueError(f"expected predictions of shape ({len(ids)}, 3), got {proba.shape}")
    frame = pd.DataFrame(proba, columns=list(CLASS_COLUMNS))
    frame.insert(0, "id", np.asarray(ids))
    return frame


def save_predictions(path: Path, ids, proba: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    proba_frame(ids, proba).to_csv(path, index=False, float_format="%.8g")
    return path


def load_predictions(path: Path, ids=None) -> np.ndarray:
    """Predictions from a CSV, in the order of `ids` when given (refusing missing or extra ids)."""
    frame = pd.read_csv(path)
    if ids is None:
        return frame[list(CLASS_COLUMNS)].to_numpy()
    by_id = frame.set_index("id")
    wanted = pd.Index(np.asarray(ids))
    missing = wanted.difference(by_id.index)
    if len(missing) or len(by_id) != len(wanted):
        differences = join_present(counted(missing, "id(s) missing"), f"{len(by_id)} rows for {len(wanted)} ids")
        raise ValueError(
            f"{path}: predictions do not match the rows asked for ({differences}). Re-run that model on this data."
        )
    return by_id.loc[wanted, list(CLASS_COLUMNS)].to_numpy()


def load_prediction_frame(path: Path) -> pd.DataFrame:
    """A predictions CSV as a frame indexed by id, checked; it may hold any subset of the rows.

    A model that trained only some folds writes out-of-fold predictions for those folds' rows
    only, so callers intersect ids here, where load_predictions insists on every row.
    """
    frame = pd.read_csv(path)
    missing = [column for column in ("id", *CLASS_COLUMNS) if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: no column(s) {', '.join(missing)}; expected id and {', '.join(CLASS_COLUMNS)}. "
            "Re-run that model's notebook."
        )
    duplicated = frame["id"][frame["id"].duplicated()]
    values = frame[list(CLASS_COLUMNS)].to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1) | (np.abs(values.sum(axis=1) - 1) > 1e-3)
    if len(duplicated) or bad.any():
        problems = join_present(
            counted(duplicated, "duplicated id(s)"),
            counted(frame["id"][bad], "row id(s) that are not probabilities"),
            separator=" and ",
        )
        raise ValueError(f"{path}: {problems}. Re-run that model's notebook.")
    return frame.set_index("id")[list(CLASS_COLUMNS)]


def save_metrics(folder: Path, metrics: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2, allow_nan=False))
    return path


def load_metrics(folder: Path) -> dict:
    return json.loads((Path(folder) / METRICS_FILE).read_text())
