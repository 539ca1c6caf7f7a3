"""Checks at a model's edges: the labels fit gets, the frame it is given, the probabilities it returns.

A mistake there otherwise surfaces deep inside scikit-learn, LightGBM or torch, or (for
probabilities that are not finite) only later in the ensemble; these say what is wrong, in how
many rows, and what to do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from arenakit.core.errors import examples
from arenakit.core.probabilities import probability_row_problems
from arenakit.core.schema import CLASS_COLUMNS, CLASS_NAMES, N_CLASSES
from arenakit.data.competition import NULL_FLAG_COLUMNS, TURN_COLUMNS

# What load_competition adds to the raw columns; every model reads some of these.
PARSED_COLUMNS = (*TURN_COLUMNS.values(), *NULL_FLAG_COLUMNS.values(), "n_turns")
LABEL_MEANING = ", ".join(f"{index} = {name}" for index, name in enumerate(CLASS_NAMES))


def _where(rows: np.ndarray, ids) -> str:
    """The rows an error names: by id when the frame has ids, else by position."""
    if ids is not None:
        return f"row id(s) {examples(np.asarray(ids)[rows])}"
    return f"row position(s) {examples(rows)}"


def check_labels(y, n_rows: int, ids=None, every_class: bool = True) -> np.ndarray:
    """y as integer labels 0..2, one per row, every class present; ValueError saying what is wrong.

    Whole floats (2.0) are accepted; `ids` (the frame's id column), when given, names the bad rows.
    every_class=False: a class may be absent (a distilled fit: its teacher gives every class some mass).
    """
    if n_rows == 0:
        raise ValueError(
            "fit got no rows: give it a non-empty train frame (load_competition(...).train, or a fold of it)"
        )
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_rows:
        raise ValueError(
            f"fit got labels of shape {labels.shape} for {n_rows} rows: give one label per row ({LABEL_MEANING}), "
            "or no y, and the frame's 'label' column is used"
        )
    if labels.dtype.kind == "O" and not any(isinstance(value, (str, bytes, bool)) for value in labels):
        labels = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy(dtype=np.float64)
    if labels.dtype.kind not in "iuf":
        shown = examples(repr(value) for value in pd.unique(labels)[:5].tolist())
        kind = {"U": "string", "S": "bytes", "b": "bool"}.get(labels.dtype.kind, str(labels.dtype))
        raise ValueError(
            f"labels must be integers ({LABEL_MEANING}); got {kind} values such as {shown}. "
            "Map them to 0, 1, 2, or pass no y: a train frame from load_competition carries a 'label' column"
        )
    if labels.dtype.kind == "f":
        not_whole = np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))
        if len(not_whole):
            raise ValueError(
                f"{len(not_whole)} of {n_rows} labels are not whole numbers, in {_where(not_whole, ids)} "
                f"(value(s) {examples(labels[not_whole])}); labels are class indices ({LABEL_MEANING}): "
                "pass the 'label' column, not probabilities"
            )
        labels = labels.astype(np.int64)
    outside = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if len(outside):
        raise ValueError(
            f"{len(outside)} of {n_rows} labels lie outside 0..{N_CLASSES - 1}, in {_where(outside, ids)} "
            f"(value(s) {examples(labels[outside])}); labels are {LABEL_MEANING}: fix or drop those rows"
        )
    absent = [f"{index} ({CLASS_NAMES[index]})" for index in range(N_CLASSES) if not (labels == index).any()]
    if absent and every_class:
        raise ValueError(
            f"no training row has label {' or '.join(absent)} among {n_rows} rows: a model cannot learn a class "
            "it never sees. Train on more rows, or use fewer folds so each fold's training rows hold every class"
        )
    return labels


def check_parsed_frame(frame) -> None:
    """ValueError unless `frame` holds competition rows parsed by load_competition."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(
            f"expected a pandas DataFrame of competition rows, got {type(frame).__name__}: "
            "pass load_competition(data_dir).train or .test"
        )
    missing = [column for column in PARSED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the frame is not parsed: it lacks {', '.join(missing)} (a frame from pd.read_csv holds the raw "
            "JSON text). Call arenakit.data.competition.load_competition(data_dir) first and pass its .train or .test"
        )
    turns = frame[TURN_COLUMNS["prompt"]]
    if len(frame) and not isinstance(turns.iloc[0], (tuple, list)):
        raise ValueError(
            f"the frame's {turns.name} holds {type(turns.iloc[0]).__name__}, not turns: it was written to a file "
            "and read back. Call arenakit.data.competition.load_competition(data_dir) and pass its .train or .test"
        )


def check_probabilities(proba, n_rows: int, model_name: str) -> np.ndarray:
    """proba as returned, after checking it is (n_rows, 3), finite, in [0, 1], rows summing to 1."""
    array = np.asarray(proba)
    if array.shape != (n_rows, N_CLASSES) or array.dtype.kind not in "iuf":
        raise ValueError(
            f"{model_name} returned {array.dtype} probabilities of shape {array.shape} for {n_rows} rows; "
            f"expected a float array of shape ({n_rows}, {N_CLASSES}), columns {', '.join(CLASS_COLUMNS)}"
        )
    for bad, what in probability_row_problems(array):
        if bad.any():
            raise ValueError(
                f"{model_name} returned probabilities that {what} for {int(bad.sum())} of {n_rows} rows "
                f"(row position(s) {examples(np.flatnonzero(bad))}). The model is broken (training diverged, or "
                "an fp16 overflow): retrain it, e.g. with a lower learning rate or in fp32"
            )
    return array
