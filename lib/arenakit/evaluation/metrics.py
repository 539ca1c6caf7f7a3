"""Scores and the tables people read after a model run.

The competition scores multi-class log loss, so `log_loss` is the number that matters; it is
written here in numpy (no scikit-learn call) so it gives the same value on every scikit-learn
release, and it matches the installed one: probabilities are clipped to [eps, 1 - eps] with eps
the machine epsilon of their dtype and are not renormalised.

Inputs follow the kit's convention: `y` holds ints 0/1/2 (A, B, tie), `proba` is an (n, 3)
array in CLASS_COLUMNS order. Accuracy, precision, recall and F1 use argmax predictions; on an
exact tie argmax picks the first class, so a uniform prediction counts as "A".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from arenakit.core.schema import CLASS_COLUMNS, CLASS_NAMES, N_CLASSES

# Rows must sum to one within this. Loose enough for float32 (or fp16) softmax outputs, tight
# enough to catch logits or unnormalised scores, whose "log loss" would be meaningless.
ROW_SUM_TOLERANCE = 1e-3

LENGTH_BUCKETS = ("short", "medium", "long")


def check_predictions(y, proba) -> tuple[np.ndarray, np.ndarray]:
    """Return (y, proba) as arrays after checking they are labels and probability rows.

    Raises ValueError naming what is wrong: shape, length mismatch, labels outside 0..2,
    non-finite values, values outside [0, 1] or rows that do not sum to one.
    """
    proba = np.asarray(proba)
    if proba.dtype not in (np.float32, np.float64):
        proba = proba.astype(np.float64)
    if proba.ndim != 2 or proba.shape[1] != N_CLASSES:
        raise ValueError(
            f"proba must have shape (n, {N_CLASSES}) with columns {CLASS_COLUMNS}; got shape {proba.shape}"
        )
    y_raw = np.asarray(y)
    if y_raw.ndim != 1:
        raise ValueError(f"y must be one-dimensional; got shape {y_raw.shape}")
    if len(y_raw) != len(proba):
        raise ValueError(f"y has {len(y_raw)} rows but proba has {len(proba)}")
    if len(y_raw) == 0:
        raise ValueError("y and proba are empty: nothing to score")
    if not np.issubdtype(y_raw.dtype, np.number) or np.issubdtype(y_raw.dtype, np.bool_):
        raise ValueError(f"y must hold integer labels 0, 1, 2; got dtype {y_raw.dtype}")
    bad = ~np.isin(y_raw, np.arange(N_CLASSES))
    if bad.any():
        examples = ", ".join(str(v) for v in np.unique(y_raw[bad])[:5].tolist())
        raise ValueError(
            f"y must hold labels 0 (A), 1 (B), 2 (tie); {int(bad.sum())} rows hold other values, e.g. {examples}"
        )
    n_nonfinite = int((~np.isfinite(proba)).any(axis=1).sum())
    if n_nonfinite:
        raise ValueError(f"proba has {n_nonfinite} rows with NaN or infinite values")
    if proba.min() < 0 or proba.max() > 1:
        raise ValueError(f"proba values must lie in [0, 1]; got min {proba.min():.6g}, max {proba.max():.6g}")
    off = np.abs(proba.sum(axis=1, dtype=np.float64) - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        raise ValueError(
            f"proba rows must sum to 1 (within {ROW_SUM_TOLERANCE}); {int(off.sum())} rows "
            f"do not, e.g. row {int(np.argmax(off))} sums to "
            f"{proba[np.argmax(off)].sum():.6g}. Pass probabilities, not logits."
        )
    return y_raw.astype(np.int64), proba


def _row_losses(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-row -ln p(true class), clipped as scikit-learn does (eps of proba's dtype)."""
    eps = np.finfo(proba.dtype).eps
    picked = proba[np.arange(len(y)), y].astype(np.float64)
    return -np.log(np.clip(picked, eps, 1 - eps))


def log_loss(y, proba) -> float:
    """Mean multi-class log loss (natural log), the competition's score; lower is better."""
    y, proba = check_predictions(y, proba)
    return float(_row_losses(y, proba).mean())


def _precision_recall_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(3, 3) array of precision, recall, f1 per class; 0 where undefined, like sklearn."""
    out = np.zeros((N_CLASSES, 3))  # precision, recall, f1
    for k in range(N_CLASSES):
        tp = np.sum((pred == k) & (y == k))
        n_pred, n_true = np.sum(pred == k), np.sum(y == k)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[k] = precision, recall, f1
    return out


def per_class_table(y, proba) -> pd.DataFrame:
    """One row per class: how often it occurs, how much the model predicts it, how well.

    `mean_proba` is averaged over all rows, so comparing it with `share` shows whether the model
    predicts each class as often as it happens; `log_loss` is over that class's rows only, and
    is NaN for a class with no rows.
    """
    y, proba = check_predictions(y, proba)
    losses = _row_losses(y, proba)
    prf = _precision_recall_f1(y, proba.argmax(axis=1))
    rows = []
    for k, name in enumerate(CLASS_NAMES):
        mask = y == k
        rows.append(
            {
                "class": name,
                "n": int(mask.sum()),
                "share": float(mask.mean()),
                "mean_proba": float(proba[:, k].mean()),
                "log_loss": float(losses[mask].mean()) if mask.any() else math.nan,
                "precision": float(prf[k, 0]),
                "recall": float(prf[k, 1]),
                "f1": float(prf[k, 2]),
            }
        )
    return pd.DataFrame(rows)


def length_buckets(lengths) -> np.ndarray:
    """Bucket index 0/1/2 (short/medium/long) of each row by the tertiles of `lengths`.

    A row goes by its mid-rank percentile, so equal lengths always share a bucket (no bucket's
    range overlaps another's) and n divisible by 3 without ties gives equal thirds. With ties or
    very few rows a bucket can be empty: all-equal lengths, or a single row, land in "medium".
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be one-dimensional; got shape {lengths.shape}")
    if not np.isfinite(lengths).all():
        raise ValueError(f"lengths has {int((~np.isfinite(lengths)).sum())} NaN or infinite values")
    n = len(lengths)
    # Average ranks are multiples of 0.5, so 2 * rank - 1 is an integer and the bucket below is
    # exact integer arithmetic: floor(3 * (rank - 0.5) / n).
    twice_rank_minus_one = (2 * pd.Series(lengths).rank(method="average").to_numpy() - 1).round()
    return np.minimum((3 * twice_rank_minus_one.astype(np.int64)) // (2 * n), 2)


def log_loss_by_length(y, proba, lengths) -> pd.DataFrame:
    """Log loss and accuracy per length tertile (short, medium, long), always three rows.

    `lengths` is whatever length the caller cares about, e.g. the combined characters of both
    responses. Empty buckets keep their row with n = 0 and NaN statistics, so the table has the
    same shape for every run.
    """
    y, proba = check_predictions(y, proba)
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != y.shape:
        raise ValueError(f"lengths has shape {lengths.shape} but y has {len(y)} rows")
    bucket = length_buckets(lengths)
    losses = _row_losses(y, proba)
    correct = proba.argmax(axis=1) == y
    rows = []
    for b, name in enumerate(LENGTH_BUCKETS):
        mask = bucket == b
        filled = bool(mask.any())
        rows.append(
            {
                "bucket": name,
                "n": int(mask.sum()),
                "min_length": float(lengths[mask].min()) if filled else math.nan,
                "max_length": float(lengths[mask].max()) if filled else math.nan,
                "log_loss": float(losses[mask].mean()) if filled else math.nan,
                "accuracy": float(correct[mask].mean()) if filled else math.nan,
            }
        )
    return pd.DataFrame(rows)


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as plain-Python dicts, NaN as None, so json.dump writes strict JSON."""
    records = []
    for row in table.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
                clean[key] = int(value)
            elif isinstance(value, (np.floating, float)):
                clean[key] = None if math.isnan(value) else float(value)
            else:
                clean[key] = value
        records.append(clean)
    return records


def evaluate(y, proba, lengths=None) -> dict:
    """Everything a model run writes to metrics.json, as plain JSON-serialisable values.

    Keys: log_loss, accuracy, macro_f1, n, per_class (list of dicts) and, when `lengths` is
    given, by_length (list of dicts). Undefined statistics are None.
    """
    y, proba = check_predictions(y, proba)
    per_class = per_class_table(y, proba)
    result = {
        "log_loss": log_loss(y, proba),
        "accuracy": float((proba.argmax(axis=1) == y).mean()),
        "macro_f1": float(per_class["f1"].mean()),
        "n": int(len(y)),
        "per_class": _records(per_class),
    }
    if lengths is not None:
        result["by_length"] = _records(log_loss_by_length(y, proba, lengths))
    return result
