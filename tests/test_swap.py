"""The one A/B swap mapping: labels, probabilities, and both orders of training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenakit.core.swap import average_orders, swap_labels, swap_proba, with_swapped_rows


def test_labels_and_probabilities_swap_a_and_b_and_keep_ties():
    labels = np.array([0, 1, 2, 0], dtype=np.int8)
    assert swap_labels(labels).tolist() == [1, 0, 2, 1] and swap_labels(labels).dtype == np.int8
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    np.testing.assert_array_equal(swap_proba(proba), [[0.3, 0.6, 0.1], [0.5, 0.2, 0.3]])
    np.testing.assert_allclose(average_orders(proba, swap_proba(proba)), proba)


@pytest.mark.parametrize("interleave", [False, True])
def test_both_orders_carry_the_swapped_labels(interleave):
    y = np.array([0, 1, 2])
    rows, swapped = pd.DataFrame({"x": [1, 2, 3]}), pd.DataFrame({"x": [-1, -2, -3]})
    frame, labels = with_swapped_rows(rows, y, swapped, interleave=interleave)
    ids, id_labels = with_swapped_rows([[1], [2], [3]], y, [[-1], [-2], [-3]], interleave=interleave)
    expected = [1, -1, 2, -2, 3, -3] if interleave else [1, 2, 3, -1, -2, -3]
    assert frame["x"].tolist() == expected and [seq[0] for seq in ids] == expected
    # Every row keeps its label, every swapped row gets its label with A and B exchanged.
    by_value = {1: 0, 2: 1, 3: 2, -1: 1, -2: 0, -3: 2}
    assert labels.tolist() == id_labels.tolist() == [by_value[x] for x in expected]
    with pytest.raises(ValueError, match="must match"):
        with_swapped_rows(rows, y[:2], swapped)
