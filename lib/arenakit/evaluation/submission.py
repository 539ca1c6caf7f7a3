"""Turning predictions into a submission.csv that Kaggle accepts and scores as intended.

Kaggle matches rows by id, so predictions are aligned by id, never by position, and written in
sample_submission.csv's order. Every value is kept strictly inside (0, 1): the score is log loss,
and one confident zero on the true class would cost far more than the clipping does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.atomic import write_csv
from arenakit.core.errors import SubmissionError, examples
from arenakit.core.schema import CLASS_COLUMNS, N_CLASSES, SUBMISSION_COLUMNS

ROW_SUM_TOLERANCE = 1e-6


def _id_keys(ids) -> pd.Series:
    """Ids as strings, so 136060 read from a CSV and "136060" from elsewhere compare equal."""
    return pd.Series(np.asarray(ids, dtype=object)).astype(str)


def _check_ids(ids, expected_ids, what: str) -> None:
    """Raise SubmissionError unless `ids` are exactly `expected_ids`, each once (any order)."""
    ids = pd.Series(np.asarray(ids, dtype=object))
    n_null = int(ids.isna().sum())
    if n_null:
        raise SubmissionError(f"{what}: {n_null} rows have no id")
    keys = _id_keys(ids)
    duplicated = keys[keys.duplicated()].unique()
    if len(duplicated):
        n_rows = int(keys.isin(duplicated).sum())
        raise SubmissionError(
            f"{what}: {len(duplicated)} ids appear more than once ({n_rows} rows), e.g. {examples(duplicated)}"
        )
    expected = _id_keys(expected_ids)
    missing = expected[~expected.isin(keys)]
    extra = keys[~keys.isin(expected)]
    problems = []
    if len(missing):
        problems.append(f"{len(missing)} test ids are missing, e.g. {examples(missing)}")
    if len(extra):
        problems.append(f"{len(extra)} ids are not in test.csv, e.g. {examples(extra)}")
    if problems:
        raise SubmissionError(f"{what}: " + "; ".join(problems))


def validate_submission(frame: pd.DataFrame, test_ids, eps: float = 0.0) -> None:
    """Raise SubmissionError saying what is wrong, in how many rows, with example ids.

    Checks, in order: the columns are exactly SUBMISSION_COLUMNS; there is at least one row; the
    ids are exactly `test_ids` (test.csv's), each once, in any order; every probability is a
    finite number strictly inside (0, 1) and, when eps > 0, inside [eps, 1 - eps]; each row sums
    to 1 within 1e-6.
    """
    columns = list(frame.columns)
    if columns != list(SUBMISSION_COLUMNS):
        missing = [c for c in SUBMISSION_COLUMNS if c not in columns]
        extra = [c for c in columns if c not in SUBMISSION_COLUMNS]
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        details = []
        if missing:
            details.append(f"missing {missing}")
        if extra:
            details.append(f"unexpected {extra}")
        if duplicated:
            details.append(f"duplicated {duplicated}")
        if not details:
            details.append(f"wrong order {columns}")
        raise SubmissionError(f"submission columns must be {list(SUBMISSION_COLUMNS)}: " + "; ".join(details))
    if frame.empty:
        raise SubmissionError(
            f"the submission has no rows: Kaggle scores one row per test.csv id ({len(test_ids)} here). "
            "Predict every test row (make_submission builds the frame from the predictions and sample_submission)"
        )
    _check_ids(frame["id"], test_ids, "submission ids do not match test.csv")

    ids = frame["id"].to_numpy()
    values = frame[list(CLASS_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    non_numeric = values.isna() & frame[list(CLASS_COLUMNS)].notna()
    if non_numeric.to_numpy().any():
        rows = non_numeric.any(axis=1).to_numpy()
        raise SubmissionError(f"{int(rows.sum())} rows have non-numeric probabilities, e.g. ids {examples(ids[rows])}")
    array = values.to_numpy(dtype=np.float64)
    rows = (~np.isfinite(array)).any(axis=1)
    if rows.any():
        raise SubmissionError(
            f"{int(rows.sum())} rows have empty, NaN or infinite probabilities, e.g. ids {examples(ids[rows])}"
        )
    low, high = max(eps, 0.0), 1.0 - max(eps, 0.0)
    outside = (array <= 0) | (array >= 1) | (array < low) | (array > high)
    rows = outside.any(axis=1)
    if rows.any():
        bounds = f"[{eps:g}, 1 - {eps:g}]" if eps > 0 else "(0, 1)"
        raise SubmissionError(
            f"{int(rows.sum())} rows have probabilities outside {bounds}, "
            f"e.g. ids {examples(ids[rows])}; clip them (make_submission does)"
        )
    sums = array.sum(axis=1)
    rows = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if rows.any():
        raise SubmissionError(
            f"{int(rows.sum())} rows do not sum to 1 (within {ROW_SUM_TOLERANCE:g}), "
            f"e.g. ids {examples(ids[rows])} (sums {examples(np.round(sums[rows], 6))})"
        )


def make_submission(proba, ids, sample_submission: pd.DataFrame, eps: float = 1e-6) -> pd.DataFrame:
    """The submission frame: `proba` rows matched to `ids`, in sample_submission's id order.

    Each row is normalised, then mixed with a floor of eps: p = eps + (1 - 3 eps) * q. That is
    clipping to [eps, 1 - eps] and renormalising in one step, with the bounds and the sum of one
    exact (plain clip-then-divide would push the floor back below eps). The frame is validated
    against sample_submission's ids before it is returned.
    """
    if not 0 <= eps < 1 / N_CLASSES:
        raise SubmissionError(f"eps must lie in [0, 1/{N_CLASSES}); got {eps}")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != N_CLASSES:
        raise SubmissionError(f"proba must have shape (n, {N_CLASSES}) in order {CLASS_COLUMNS}; got {proba.shape}")
    ids = np.asarray(ids, dtype=object)
    if len(ids) != len(proba):
        raise SubmissionError(f"{len(ids)} ids but {len(proba)} rows of proba")
    bad = ~np.isfinite(proba).all(axis=1) | (proba < 0).any(axis=1) | (proba.sum(axis=1) <= 0)
    if bad.any():
        raise SubmissionError(
            f"{int(bad.sum())} rows of proba are not probabilities (NaN, infinite, negative or "
            f"all zero), e.g. ids {examples(ids[bad])}"
        )
    if "id" not in sample_submission.columns:
        raise SubmissionError("sample_submission has no 'id' column")
    order = sample_submission["id"]
    if order.empty:
        raise SubmissionError(
            "sample_submission has no rows, so there is nothing to submit: load it with load_competition "
            "(which refuses a test.csv or sample_submission.csv without rows) from the competition's files"
        )
    _check_ids(ids, order, "prediction ids do not match sample_submission")

    normalised = proba / proba.sum(axis=1, keepdims=True)
    floored = eps + (1 - N_CLASSES * eps) * normalised
    position = pd.Series(np.arange(len(ids)), index=_id_keys(ids).to_numpy())
    take = position.loc[_id_keys(order).to_numpy()].to_numpy()
    frame = pd.DataFrame(floored[take], columns=list(CLASS_COLUMNS))
    frame.insert(0, "id", order.to_numpy())
    validate_submission(frame, order)
    return frame


def write_submission(proba, ids, sample_submission: pd.DataFrame, path, eps: float = 1e-6) -> pd.DataFrame:
    """make_submission, write it as CSV to `path` (folders created), return the frame.

    Floats are written with 17 significant digits, enough to read back the same doubles, and the
    written file is read back and validated, so what Kaggle receives is what was checked.
    """
    frame = make_submission(proba, ids, sample_submission, eps=eps)
    path = Path(path)
    write_csv(path, frame, index=False, float_format="%.17g")
    # Ids read back as text, so ids that are not plain integers compare as they were written.
    validate_submission(pd.read_csv(path, dtype={"id": str}), sample_submission["id"])
    return frame
