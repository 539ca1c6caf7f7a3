"""A/B symmetry: the same conversation with the responses exchanged is the same question.

Swapping A and B swaps columns 0 and 1 of the target. Models use this twice: training on both
orders (augmentation) and averaging a prediction with the column-swapped prediction on the
swapped rows (swap-averaged inference), which makes the output exactly symmetric.
"""

from __future__ import annotations

import numpy as np

SWAP_COLUMNS = [1, 0, 2]


def swap_proba(proba: np.ndarray) -> np.ndarray:
    """Probabilities for the swapped rows: P(A) and P(B) trade places, P(tie) stays."""
    return np.asarray(proba)[:, SWAP_COLUMNS]


def swap_average(proba: np.ndarray, proba_on_swapped: np.ndarray) -> np.ndarray:
    """Average a prediction with the prediction made on the swapped rows, mapped back."""
    return 0.5 * (np.asarray(proba) + swap_proba(proba_on_swapped))


def swap_asymmetry(proba: np.ndarray, proba_on_swapped: np.ndarray) -> float:
    """Mean absolute gap between a prediction and the mapped-back swapped prediction (0 = symmetric)."""
    return float(np.abs(np.asarray(proba) - swap_proba(proba_on_swapped)).mean())
