"""models/checks: the labels fit gets, the frame a model is given, the probabilities it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenakit.data import load_competition
from arenakit.models.base import ArenaModel
from arenakit.models.baseline import BaselineModel
from arenakit.models.checks import check_labels, check_parsed_frame, check_probabilities

IDS = np.array([11, 12, 13, 14])


@pytest.fixture(scope="module")
def competition(synthetic_dir):
    return load_competition(synthetic_dir)


def test_good_labels_pass_and_whole_floats_become_integers():
    assert check_labels(np.array([0, 1, 2, 1], dtype=np.int8), 4).tolist() == [0, 1, 2, 1]
    floats = check_labels([0.0, 1.0, 2.0, 2.0], 4)
    assert floats.dtype == np.int64 and floats.tolist() == [0, 1, 2, 2]
    assert check_labels(np.array([2, 0, 1, 0], dtype=object), 4).tolist() == [2, 0, 1, 0]


@pytest.mark.parametrize(
    "labels, n_rows, message",
    [
        ([], 0, r"fit got no rows: give it a non-empty train frame"),
        ([0, 1, 2], 4, r"fit got labels of shape \(3,\) for 4 rows: give one label per row \(0 = A, 1 = B, 2 = tie\)"),
        ([0, 1, 2, 3], 4, r"1 of 4 labels lie outside 0\.\.2, in row id\(s\) 14 \(value\(s\) 3\).*fix or drop"),
        ([0, -1, 2, 1], 4, r"1 of 4 labels lie outside 0\.\.2, in row id\(s\) 12 \(value\(s\) -1\)"),
        (
            [0, 1, 2, 0.5],
            4,
            r"1 of 4 labels are not whole numbers, in row id\(s\) 14 \(value\(s\) 0\.5\).*not probabilities",
        ),
        ([0, np.nan, 2, 1], 4, r"1 of 4 labels are not whole numbers, in row id\(s\) 12"),
        (
            ["A", "B", "tie", "A"],
            4,
            r"labels must be integers \(0 = A, 1 = B, 2 = tie\); got string values such as 'A', 'B'.*Map",
        ),
        ([True, False, True, False], 4, r"labels must be integers .*got bool"),
        ([0, 1, 1, 0], 4, r"no training row has label 2 \(tie\) among 4 rows.*fewer folds"),
    ],
)
def test_bad_labels_say_what_and_where(labels, n_rows, message):
    with pytest.raises(ValueError, match=message):
        check_labels(labels, n_rows, IDS[:n_rows])


def test_rows_are_named_by_position_without_ids():
    with pytest.raises(ValueError, match=r"in row position\(s\) 2 \(value\(s\) 7\)"):
        check_labels([0, 1, 7, 2], 4)


def test_unparsed_frames_are_refused(competition, synthetic_dir, tmp_path):
    check_parsed_frame(competition.test)
    raw = pd.read_csv(synthetic_dir / "test.csv")
    with pytest.raises(ValueError, match=r"not parsed: it lacks prompt_turns, .*load_competition\(data_dir\) first"):
        check_parsed_frame(raw)
    competition.test.to_csv(tmp_path / "parsed.csv", index=False)
    with pytest.raises(ValueError, match=r"prompt_turns holds str, not turns: it was written to a file and read back"):
        check_parsed_frame(pd.read_csv(tmp_path / "parsed.csv"))
    with pytest.raises(ValueError, match=r"expected a pandas DataFrame of competition rows, got list"):
        check_parsed_frame([1, 2])


@pytest.mark.parametrize(
    "proba, message",
    [
        (
            np.full((3, 2), 0.5),
            r"Broken returned float64 probabilities of shape \(3, 2\) for 3 rows; expected .*\(3, 3\)",
        ),
        (np.full((2, 3), 1 / 3), r"shape \(2, 3\) for 3 rows"),
        (
            [[np.nan, 0.5, 0.5], [1, 0, 0], [0, np.inf, 0]],
            r"Broken returned probabilities that are not finite .* for 2 of 3 rows \(row position\(s\) 0, 2\).*retrain",
        ),
        ([[1.5, -0.5, 0], [1, 0, 0], [0, 1, 0]], r"lie outside \[0, 1\] for 1 of 3 rows"),
        ([[0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0]], r"do not sum to 1 .* for 1 of 3 rows"),
    ],
)
def test_bad_probabilities_name_the_model_and_rows(proba, message):
    with pytest.raises(ValueError, match=message):
        check_probabilities(proba, 3, "Broken")


class NaNModel(ArenaModel):
    """A model whose one-order prediction is NaN on its first row (a diverged fit)."""

    _fitted_attribute = "fitted_"

    def __init__(self, swap_average: bool = False):
        self.swap_average = swap_average
        self.fitted_ = True

    def _predict_one_order(self, frame):
        proba = np.full((len(frame), 3), 1 / 3)
        proba[0] = np.nan
        return proba


@pytest.mark.parametrize("swap_average", [False, True])
def test_predict_proba_checks_its_input_and_output(competition, synthetic_dir, swap_average):
    test = competition.test.head(4)
    with pytest.raises(ValueError, match=r"NaNModel returned probabilities that are not finite .* 1 of 4 rows"):
        NaNModel(swap_average).predict_proba(test)
    with pytest.raises(ValueError, match=r"not parsed.*load_competition"):
        NaNModel(swap_average).predict_proba(pd.read_csv(synthetic_dir / "test.csv"))


def test_fit_checks_labels_and_frame_before_training(competition, synthetic_dir):
    train = competition.train.head(40)
    with pytest.raises(ValueError, match=r"no training row has label 2 \(tie\)"):
        BaselineModel(C=0.1).fit(train, np.where(train["label"] == 2, 0, train["label"]))
    with pytest.raises(ValueError, match=r"labels must be integers .*'A'"):
        BaselineModel(C=0.1).fit(train, np.array(["A", "B", "tie", "A"] * 10))
    with pytest.raises(ValueError, match=r"fit got no rows"):
        BaselineModel(C=0.1).fit(train.iloc[:0])
    with pytest.raises(ValueError, match=r"not parsed.*load_competition"):
        BaselineModel(C=0.1).fit(pd.read_csv(synthetic_dir / "train.csv"))
