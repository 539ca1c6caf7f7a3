"""A/B symmetry: the same conversation with the responses exchanged is the same question.

Swapping A and B swaps columns 0 and 1 of the target (SWAP_COLUMNS); labels 0 and 1 trade
places, ties stay. Models use this twice: training on both orders (with_swapped_rows, the one
"append the swapped rows" step of every model) and averaging a prediction with the mapped-back
prediction on the swapped rows (average_orders), which makes the output exactly symmetric.
Swapping the rows themselves depends on what they are: arenakit.data.competition.swap_ab for a parsed frame,
arenakit.inputs.features.swap_features for a feature table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SWAP_COLUMNS = [1, 0, 2]


def swap_labels(labels) -> np.ndarray:
    """Labels after exchanging A and B: 0 and 1 trade places, ties stay."""
    labels = np.asarray(labels)
    # An unlabelled row (a negative label, core.schema.UNLABELLED) stays unlabelled.
    return np.where(labels < 0, labels, np.asarray(SWAP_COLUMNS, dtype=labels.dtype)[np.maximum(labels, 0)])


def swap_proba(proba: np.ndarray) -> np.ndarray:
    """Probabilities for the swapped rows: P(A) and P(B) trade places, P(tie) stays."""
    return np.asarray(proba)[:, SWAP_COLUMNS]


def average_orders(proba: np.ndarray, proba_on_swapped: np.ndarray) -> np.ndarray:
    """Average a prediction with the prediction made on the swapped rows, mapped back."""
    return 0.5 * (np.asarray(proba) + swap_proba(proba_on_swapped))


def swap_asymmetry(proba: np.ndarray, proba_on_swapped: np.ndarray) -> float:
    """Mean absolute gap between a prediction and the mapped-back swapped prediction (0 = symmetric)."""
    return float(np.abs(np.asarray(proba) - swap_proba(proba_on_swapped)).mean())


def with_swapped_rows(rows, y, swapped_rows, interleave: bool = False):
    """Training rows in both A/B orders, and their labels.

    rows and swapped_rows are the same rows in both orders: two frames (feature tables, parsed
    rows) or two lists (token ids). The swapped rows follow all the rows, or with interleave each
    row is followed by its own swap (rows 2k and 2k+1: batching can keep the pair together).
    """
    y = np.asarray(y)
    if len(rows) != len(y) or len(swapped_rows) != len(y):
        raise ValueError(f"{len(rows)} rows, {len(swapped_rows)} swapped rows and {len(y)} labels: they must match")
    labels = np.column_stack([y, swap_labels(y)]).ravel() if interleave else np.concatenate([y, swap_labels(y)])
    if isinstance(rows, pd.DataFrame):
        both = pd.concat([rows, swapped_rows], ignore_index=True)
        if interleave:
            both = both.iloc[np.arange(2 * len(y)).reshape(2, -1).T.ravel()].reset_index(drop=True)
        return both, labels
    if interleave:
        return [row for pair in zip(rows, swapped_rows) for row in pair], labels
    return list(rows) + list(swapped_rows), labels
