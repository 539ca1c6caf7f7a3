"""metrics: the log loss must be the competition's number; the tables must add up."""

import json
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.metrics import log_loss as sklearn_log_loss

from arenakit.core.schema import CLASS_NAMES
from arenakit.evaluation.metrics import (
    evaluate,
    length_buckets,
    log_loss,
    log_loss_by_length,
    per_class_table,
)

LABELS = [0, 1, 2]


def random_rows(n, seed=0, zeros=True):
    """Random labels and probability rows; with zeros, some rows hold exact 0 and 1."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    y = rng.integers(0, 3, size=n)
    if zeros:
        proba[: n // 5] = np.eye(3)[rng.integers(0, 3, size=n // 5)]
        proba[n // 5 : n // 3, 2] = 0.0
        proba[n // 5 : n // 3] /= proba[n // 5 : n // 3].sum(axis=1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_loss_equals_sklearn_including_exact_zeros(seed):
    y, proba = random_rows(300, seed)
    assert (proba == 0).any() and (proba == 1).any()
    assert log_loss(y, proba) == pytest.approx(sklearn_log_loss(y, proba, labels=LABELS), abs=1e-9)


def test_log_loss_equals_sklearn_without_zeros_and_on_one_row():
    y, proba = random_rows(500, 3, zeros=False)
    assert log_loss(y, proba) == pytest.approx(sklearn_log_loss(y, proba, labels=LABELS), abs=1e-9)
    assert log_loss(y[:1], proba[:1]) == pytest.approx(sklearn_log_loss(y[:1], proba[:1], labels=LABELS), abs=1e-9)


def test_log_loss_float32_clips_like_sklearn():
    # sklearn clips at float32's eps for float32 input; we do too (we sum in float64).
    y, proba = random_rows(300, 4)
    proba32 = proba.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that float32 rows do not sum to one
        expected = sklearn_log_loss(y, proba32, labels=LABELS)
    assert log_loss(y, proba32) == pytest.approx(expected, abs=1e-6)


def test_log_loss_known_values():
    assert log_loss([0, 1, 2], np.full((3, 3), 1 / 3)) == pytest.approx(math.log(3))
    assert log_loss([0], [[1.0, 0.0, 0.0]]) == pytest.approx(0.0, abs=1e-12)
    assert log_loss([1], [[1.0, 0.0, 0.0]]) == pytest.approx(-math.log(np.finfo(float).eps))


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        ([0, 1], np.full((2, 2), 0.5), r"shape \(n, 3\).*\(2, 2\)"),
        ([0, 1], np.full(3, 1 / 3), r"shape \(n, 3\)"),
        ([0, 1, 2], np.full((2, 3), 1 / 3), "y has 3 rows but proba has 2"),
        ([0, 3], np.full((2, 3), 1 / 3), r"1 rows hold other values, e.g. 3"),
        ([0, -1], np.full((2, 3), 1 / 3), "labels 0 .A., 1 .B., 2 .tie."),
        (["A", "B"], np.full((2, 3), 1 / 3), "integer labels"),
        ([[0, 1]], np.full((2, 3), 1 / 3), "one-dimensional"),
        ([0, 1], [[np.nan, 0.5, 0.5], [1 / 3] * 3], "1 rows with NaN or infinite"),
        ([0, 1], [[np.inf, 0, 0], [1 / 3] * 3], "NaN or infinite"),
        ([0, 1], [[1.5, -0.5, 0], [1 / 3] * 3], r"must lie in \[0, 1\]"),
        ([0, 1], [[0.9, 0.9, 0.9], [1 / 3] * 3], r"1 rows do not, e.g. row 0 sums to 2.7"),
        ([], np.zeros((0, 3)), "empty"),
    ],
)
def test_log_loss_rejects_bad_input(y, proba, message):
    with pytest.raises(ValueError, match=message):
        log_loss(y, proba)


def test_log_loss_accepts_float_labels_and_float32_rounding():
    proba = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], dtype=np.float32) * np.float32(1.0000001)
    assert log_loss(np.array([2.0, 0.0]), proba) == pytest.approx(-(math.log(0.5) + math.log(0.6)) / 2, rel=1e-5)


def test_per_class_table_matches_sklearn():
    y, proba = random_rows(400, 5)
    table = per_class_table(y, proba)
    assert list(table["class"]) == list(CLASS_NAMES)
    assert list(table.columns) == [
        "class",
        "n",
        "share",
        "mean_proba",
        "log_loss",
        "precision",
        "recall",
        "f1",
    ]
    precision, recall, f1, support = precision_recall_fscore_support(
        y, proba.argmax(axis=1), labels=LABELS, zero_division=0
    )
    np.testing.assert_allclose(table["precision"], precision)
    np.testing.assert_allclose(table["recall"], recall)
    np.testing.assert_allclose(table["f1"], f1)
    np.testing.assert_array_equal(table["n"], support)
    assert table["share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(table["mean_proba"], proba.mean(axis=0))
    for k in LABELS:
        rows = y == k
        assert table["log_loss"][k] == pytest.approx(sklearn_log_loss(y[rows], proba[rows], labels=LABELS))


def test_per_class_table_absent_class():
    table = per_class_table([0, 0, 1], [[0.8, 0.1, 0.1], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1]])
    tie = table.iloc[2]
    assert tie["n"] == 0 and math.isnan(tie["log_loss"])
    assert tie["precision"] == 0 and tie["recall"] == 0 and tie["f1"] == 0


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [
        ([5], [1]),
        ([1, 2], [0, 2]),
        ([3, 1, 2], [2, 0, 1]),
        ([7, 7, 7, 7], [1, 1, 1, 1]),
        ([1, 2, 3, 4, 5, 6], [0, 0, 1, 1, 2, 2]),
        ([1, 2, 3, 3, 3, 3], [0, 0, 2, 2, 2, 2]),
        ([1, 1, 1, 1, 2, 3], [1, 1, 1, 1, 2, 2]),  # a tie block goes where its middle falls
    ],
)
def test_length_buckets_keep_ties_together(lengths, expected):
    assert list(length_buckets(lengths)) == expected


def test_length_buckets_equal_thirds_and_disjoint_ranges():
    rng = np.random.default_rng(6)
    lengths = rng.permutation(300)
    assert np.bincount(length_buckets(lengths)).tolist() == [100, 100, 100]
    y, proba = random_rows(999, 7)
    lengths = rng.integers(0, 50, size=999)  # many ties
    table = log_loss_by_length(y, proba, lengths)
    assert table["n"].sum() == 999
    assert (table["max_length"].to_numpy()[:-1] < table["min_length"].to_numpy()[1:]).all()


def test_log_loss_by_length_values():
    y, proba = random_rows(90, 8)
    lengths = np.arange(90)[::-1]
    table = log_loss_by_length(y, proba, lengths)
    assert list(table.columns) == [
        "bucket",
        "n",
        "min_length",
        "max_length",
        "log_loss",
        "accuracy",
    ]
    assert list(table["bucket"]) == ["short", "medium", "long"]
    assert list(table["n"]) == [30, 30, 30]
    assert list(table["min_length"]) == [0, 30, 60] and list(table["max_length"]) == [29, 59, 89]
    short = lengths < 30
    assert table["log_loss"][0] == pytest.approx(log_loss(y[short], proba[short]))
    assert table["accuracy"][0] == pytest.approx((proba[short].argmax(1) == y[short]).mean())
    weighted = (table["log_loss"] * table["n"]).sum() / 90
    assert weighted == pytest.approx(log_loss(y, proba))


def test_log_loss_by_length_tiny_and_bad_inputs():
    table = log_loss_by_length([2], [[0.2, 0.3, 0.5]], [10])
    assert list(table["n"]) == [0, 1, 0]
    assert math.isnan(table["log_loss"][0])
    assert table["log_loss"][1] == pytest.approx(-math.log(0.5))
    with pytest.raises(ValueError, match="lengths has shape"):
        log_loss_by_length([0, 1], np.full((2, 3), 1 / 3), [1, 2, 3])
    with pytest.raises(ValueError, match="NaN or infinite"):
        log_loss_by_length([0, 1], np.full((2, 3), 1 / 3), [1, np.nan])


def test_evaluate_is_json_serialisable_and_consistent():
    y, proba = random_rows(120, 9)
    lengths = np.random.default_rng(9).integers(0, 1000, size=120)
    result = evaluate(y, proba, lengths)
    assert set(result) == {"log_loss", "accuracy", "macro_f1", "n", "per_class", "by_length"}
    assert result["log_loss"] == pytest.approx(sklearn_log_loss(y, proba, labels=LABELS), abs=1e-9)
    assert result["macro_f1"] == pytest.approx(
        f1_score(y, proba.argmax(1), labels=LABELS, average="macro", zero_division=0)
    )
    assert result["n"] == 120 and len(result["per_class"]) == 3 and len(result["by_length"]) == 3
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    for value in (result["n"], result["per_class"][0]["n"], result["by_length"][0]["n"]):
        assert type(value) is int
    assert type(result["log_loss"]) is float


def test_evaluate_without_lengths_and_with_empty_class():
    result = evaluate([0, 1], [[0.6, 0.3, 0.1], [0.3, 0.6, 0.1]])
    assert "by_length" not in result
    assert result["accuracy"] == 1.0
    assert result["per_class"][2]["log_loss"] is None
    json.dumps(result, allow_nan=False)
