"""What makes a row of predictions a probability row: one check for live predictions and saved files.

    for bad, what in probability_row_problems(values):   # values: (n, 3) floats
        if bad.any(): ...                                 # bad: a mask of rows; what: "lie outside [0, 1]"

A model's predict_proba (arenakit.models.checks) and a model folder's oof.csv and test.csv
(arenakit.core.artifacts) are held to the same rules, so a row the blend would choke on is
caught where it is read, with the file and the row named.
"""

from __future__ import annotations

import numpy as np

ROW_SUM_TOLERANCE = 1e-3


def probability_row_problems(values: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(mask of bad rows, what is wrong with them) for each rule: finite, each value in [0, 1], rows summing to 1."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values).all(axis=1)
    with np.errstate(invalid="ignore"):
        # No value below 0; above 1 only by the rounding the row sum allows.
        outside = finite & ((values < 0) | (values > 1 + ROW_SUM_TOLERANCE)).any(axis=1)
        unsummed = finite & ~outside & (np.abs(values.sum(axis=1) - 1) > ROW_SUM_TOLERANCE)
    return [
        (~finite, "are not finite (NaN or infinite)"),
        (outside, "lie outside [0, 1]"),
        (unsummed, f"do not sum to 1 (within {ROW_SUM_TOLERANCE:g})"),
    ]
