"""The length featurizer: exact counts on hand-made rows, the swap contract, sanity on real rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arenakit.data import load_competition, parse_frame, swap_ab
from arenakit.inputs.features import COMPACT_FEATURES, FEATURES_VERSION, surface_features, swap_features

STRUCTURED = (
    "# Title\n\nSome **bold** text and **more**.\n\n- one\n- two\n- three\n\n"
    "```python\nprint('hi')\n```\n\nSee [docs](https://example.com) and http://x.org."
)
FILLER = "Here is a long and helpful answer that goes on. " * 5  # 240 characters


def parsed(rows: list[tuple[list, list, list]], index=None) -> pd.DataFrame:
    """A parsed frame from (prompt turns, A turns, B turns); None is a null turn."""
    raw = pd.DataFrame(
        {
            "id": range(len(rows)),
            "prompt": [json.dumps(p) for p, _, _ in rows],
            "response_a": [json.dumps(a) for _, a, _ in rows],
            "response_b": [json.dumps(b) for _, _, b in rows],
        }
    )
    frame, issues = parse_frame(raw, "hand-made.csv")
    assert issues == []
    return frame.set_axis(index) if index is not None else frame


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    rows = [
        (["How do I print?\nIn Python?"], [STRUCTURED], ["I'm sorry, but I can't help with that."]),
        (["你好"], ["抱歉，我不能回答这个问题。"], ["Извините, я не могу помочь с этим."]),
        (["Hi"], [None], ["Sure? Yes！ Really？"]),
        (["Hi"], [None], [None]),
        (["Hi"], [""], ["  1. first\n  10) tenth\n• dot\n    - nested\n#hashtag\n  ## Sub\n3.5 million"]),
        (["Hi", "More?"], ["Hello!", None], ["Hey.", "As an AI language model, I cannot do that."]),
        (["Hi"], [FILLER + "I am sorry."], [FILLER[:150] + "I apologize. " + FILLER, "Lo siento, no puedo."]),
    ]
    return parsed(rows, index=[10, 11, 12, 13, 14, 15, 16])


@pytest.fixture(scope="module")
def hand_features(hand) -> pd.DataFrame:
    return surface_features(hand)


def test_structure_counts_are_exact(hand_features):
    row = hand_features.loc[10]
    expected = {
        "chars_a": len(STRUCTURED),
        "words_a": len(STRUCTURED.split()),
        "lines_a": 13,
        "list_items_a": 3,
        "headers_a": 1,
        "code_blocks_a": 1,
        "bold_a": 2,
        "links_a": 2,
        "questions_a": 0,
        "refusals_a": 0,
        "prompt_questions": 2,
        "prompt_lines": 2,
        "prompt_words": 6,
        "prompt_turns": 1,
    }
    assert row[list(expected)].to_dict() == pytest.approx(expected)
    assert row["digit_share_a"] == pytest.approx(0, abs=1e-9)
    assert row["newline_density_a"] == pytest.approx(STRUCTURED.count("\n") / len(STRUCTURED))
    markers = hand_features.loc[14]
    # "1. ", "10) ", "•" and an indented "- " are items; "#hashtag" and "3.5" are not markers.
    assert (markers["list_items_b"], markers["headers_b"]) == (4, 1)


def test_refusals_in_several_languages(hand_features):
    english, other = hand_features.loc[10], hand_features.loc[11]
    assert (english["refusals_b"], english["refusal_start_b"], english["refusals_a"]) == (2, 1, 0)
    assert (other["refusals_a"], other["refusal_start_a"]) == (2, 1)  # 抱歉, 我不能
    assert (other["refusals_b"], other["refusal_start_b"]) == (2, 1)  # извините, я не могу
    assert other["nonascii_share_a"] == 1
    russian = "Извините, я не могу помочь с этим."
    assert other["nonascii_share_b"] == pytest.approx(sum(not c.isascii() for c in russian) / len(russian))
    later = hand_features.loc[15]
    assert (later["refusals_b"], later["refusal_start_b"], later["turns_b"]) == (2, 1, 2)


def test_refusals_are_looked_for_at_the_start_of_each_turn(hand_features):
    row = hand_features.loc[16]
    # A: past the first 200 characters of its only turn. B: in its first 200 characters, and
    # at the start of its second turn, which lies past the first 200 characters of the response.
    assert (row["refusals_a"], row["refusal_start_a"]) == (0, 0)
    assert (row["refusals_b"], row["refusal_start_b"]) == (2, 1)


def test_null_and_empty_responses(hand_features):
    null_one, null_both, empty = hand_features.loc[12], hand_features.loc[13], hand_features.loc[14]
    assert (null_one["null_a"], null_one["empty_a"], null_one["null_b"], null_one["empty_b"]) == (1, 1, 0, 0)
    assert (null_one["chars_a"], null_one["words_a"], null_one["lines_a"], null_one["nonempty_turns_a"]) == (0, 0, 0, 0)
    assert null_one["questions_b"] == 2  # "?" and the full-width "？"
    assert (null_one["pair_both_empty"], null_one["pair_equal"], null_one["pair_sim"]) == (0, 0, 0)
    both = ("null_a", "null_b", "pair_both_empty", "pair_equal")
    assert null_both[list(both)].tolist() == [1, 1, 1, 1]
    assert (empty["empty_a"], empty["null_a"]) == (1, 0)
    turns = hand_features.loc[15]
    assert (turns["turns_a"], turns["nonempty_turns_a"], turns["nonempty_turns_b"]) == (2, 1, 2)


def test_diffs_ratios_and_pairs(hand_features):
    f = hand_features
    assert (f["diff_chars"] == f["chars_a"] - f["chars_b"]).all()
    ratio = np.log1p(f["words_a"].astype(float)) - np.log1p(f["words_b"].astype(float))
    assert np.allclose(f["logratio_words"], ratio, atol=1e-6)
    row = f.loc[10]
    gap = abs(row["chars_a"] - row["chars_b"]) / max(row["chars_a"], row["chars_b"])
    assert row["pair_len_gap"] == pytest.approx(gap)
    assert row["pair_min_log_chars"] == pytest.approx(np.log1p(min(row["chars_a"], row["chars_b"])))
    assert row["pair_max_log_chars"] == pytest.approx(np.log1p(max(row["chars_a"], row["chars_b"])))
    assert 0 <= f["pair_sim"].min() and f["pair_sim"].max() <= 1
    assert f.loc[16, "pair_sim"] > 0.5 > f.loc[10, "pair_sim"]  # the same filler vs. unrelated texts


def test_shape_dtype_index_names_and_order(hand, hand_features):
    f = hand_features
    assert FEATURES_VERSION == 1
    assert list(f.index) == list(hand.index) and set(f.dtypes) == {np.dtype(np.float32)}
    assert np.isfinite(f.to_numpy()).all()
    assert list(surface_features(hand.iloc[::-1]).columns) == list(f.columns)
    for column in f.columns:
        if column.endswith("_a"):
            assert column[:-1] + "b" in f.columns
        elif not column.endswith("_b"):
            assert column.split("_")[0] in ("prompt", "diff", "logratio", "pair"), column
    assert {"prompt_sim_a", "prompt_sim_b", "diff_prompt_sim", "logratio_chars"} <= set(f.columns)
    pd.testing.assert_frame_equal(surface_features(hand.iloc[2:4]), f.iloc[2:4])
    assert surface_features(hand.iloc[:0]).shape == (0, f.shape[1])
    pd.testing.assert_frame_equal(surface_features(hand.loc[[13]]), f.loc[[13]])  # one row, both null


def check_swap(frame: pd.DataFrame) -> pd.DataFrame:
    features = surface_features(frame)
    assert np.isfinite(features.to_numpy()).all()
    swapped = surface_features(swap_ab(frame))
    # Bit for bit: the same values and the same sign of zero.
    pd.testing.assert_frame_equal(swapped, swap_features(features), check_exact=True)
    assert np.array_equal(swapped.to_numpy().view(np.uint32), swap_features(features).to_numpy().view(np.uint32))
    for column in features.columns:
        if column.startswith(("pair_", "prompt_")) and not column.endswith(("_a", "_b")):
            assert np.array_equal(features[column], swapped[column]), column
    pd.testing.assert_frame_equal(swap_features(swap_features(features)), features, check_exact=True)
    return features


def test_swap_on_hand_made_and_synthetic_rows(hand, synthetic_dir):
    check_swap(hand)
    competition = load_competition(synthetic_dir, warn=False)
    check_swap(competition.train)
    check_swap(competition.test)


def test_swap_features_refuses_columns_without_a_rule(hand_features):
    with pytest.raises(ValueError, match="extra"):
        swap_features(hand_features.assign(extra=1.0))
    with pytest.raises(ValueError, match="chars_a"):
        swap_features(hand_features.drop(columns="chars_b"))


def test_real_rows(real_sample_dir):
    train = load_competition(real_sample_dir, warn=False).train
    features = check_swap(train)
    decided = train["label"].to_numpy() < 2
    longer_a = features["diff_chars"].to_numpy() > 0
    longer_b = features["diff_chars"].to_numpy() < 0
    label = train["label"].to_numpy()
    longer_wins = ((longer_a & (label == 0)) | (longer_b & (label == 1)))[decided].sum()
    longer_loses = ((longer_a & (label == 1)) | (longer_b & (label == 0)))[decided].sum()
    assert longer_wins > longer_loses
    assert (features["refusals_a"] > 0).sum() > 10 and (features["refusal_start_b"] > 0).sum() > 10
    assert features["list_items_a"].gt(0).mean() > 0.2 and features["code_blocks_a"].gt(0).sum() > 10
    assert features["pair_sim"].between(0, 1).all() and features["pair_sim"].mean() > features["prompt_sim_a"].mean()


def test_compact_features_are_columns_and_closed_under_the_swap(hand_features):
    compact = hand_features[list(COMPACT_FEATURES)]
    assert len(set(COMPACT_FEATURES)) == len(COMPACT_FEATURES)
    assert list(swap_features(compact).columns) == list(COMPACT_FEATURES)
