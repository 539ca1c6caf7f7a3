"""The data layer on the real rows and on hand-made bad rows, one per error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arenakit.core.errors import ArenaDataError
from arenakit.core.schema import CLASS_COLUMNS, TRAIN_COLUMNS
from arenakit.data import load_competition, load_test, load_train, swap_ab
from arenakit.data.text import clean_text, parse_turns


def train_row(row_id, winner=0, prompt='["Hi"]', response_a='["Hello!"]', response_b='["Hey."]'):
    winners = [int(i == winner) for i in range(3)]
    return [row_id, "model-x", "model-y", prompt, response_a, response_b, *winners]


def write_train(path, rows):
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(path, index=False)
    return path


def test_real_rows_parse_cleanly(real_sample_dir):
    competition = load_competition(real_sample_dir)
    train = competition.train
    assert competition.issues == []
    assert len(train) == 999 and len(competition.test) == 3
    assert np.bincount(train["label"]).tolist() == [352, 352, 295]
    assert train["id"].is_unique and train["id"].dtype == np.int64
    raw = pd.read_csv(real_sample_dir / "train.csv")
    for column, turns_column in (("prompt", "prompt_turns"), ("response_a", "response_turns_a")):
        decoded = raw[column].map(json.loads)
        assert (decoded.map(len) == train[turns_column].map(len)).all()
        # A null turn is an empty string, never the text "None".
        nulls = [(i, j) for i, turns in enumerate(decoded) for j, turn in enumerate(turns) if turn is None]
        assert all(train[turns_column].iloc[i][j] == "" for i, j in nulls)
    assert train["null_response_a"].sum() == (raw["response_a"] == "[null]").sum() == 1
    all_text = "".join(train["prompt"]) + "".join(train["response_a"]) + "".join(train["response_b"])
    assert not any("\ud800" <= ch <= "\udfff" or ch in "\r\x00\x0b" for ch in all_text)
    assert (competition.sample_submission["id"] == competition.test["id"]).all()


def test_null_turns_and_null_responses(tmp_path):
    path = write_train(
        tmp_path / "train.csv",
        [
            train_row(1, prompt='["a", "b"]', response_a='["x", null]', response_b='[null, "y"]'),
            train_row(2, response_a="[null]", response_b="[null]", winner=2),
        ],
    )
    train, issues = load_train(path)
    assert issues == []
    assert train["response_turns_a"][0] == ("x", "") and train["response_turns_b"][0] == ("", "y")
    assert train["response_a"][0] == "x\n\n" and "None" not in train["response_a"][0]
    assert train["null_response_a"].tolist() == [False, True] and train["null_response_b"].tolist() == [False, True]
    assert train["response_a"][1] == "" and train["n_turns"].tolist() == [2, 1]


def test_invalid_json_is_kept_as_raw_text_and_reported(tmp_path):
    path = write_train(
        tmp_path / "train.csv",
        [
            train_row(10),
            train_row(11, response_b="plain text, not JSON"),
            train_row(12, prompt='"just a string"'),
            train_row(13, response_a=""),
        ],
    )
    train, issues = load_train(path)
    assert train["id"].tolist() == [10, 11, 12, 13]  # nothing dropped
    assert train["response_b"][1] == "plain text, not JSON"
    assert train["prompt"][2] == '"just a string"'
    reported = {(issue.row_id, issue.column) for issue in issues}
    assert reported == {(11, "response_b"), (12, "prompt"), (13, "response_a")}
    assert all(issue.file == "train.csv" for issue in issues)
    assert "not valid JSON" in next(i.problem for i in issues if i.row_id == 11)


def test_competition_warns_about_raw_text_cells(tmp_path, synthetic_dir):
    for name in ("test.csv", "sample_submission.csv"):
        (tmp_path / name).write_bytes((synthetic_dir / name).read_bytes())
    write_train(tmp_path / "train.csv", [train_row(10), train_row(11, response_b="oops")])
    with pytest.warns(UserWarning, match=r"1 cell\(s\).*train.csv id 11 response_b"):
        competition = load_competition(tmp_path)
    assert competition.issues_frame().to_dict("records") == [
        {"file": "train.csv", "row_id": 11, "column": "response_b", "problem": competition.issues[0].problem}
    ]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([train_row(1), train_row(1)], r"train.csv: 1 duplicate id\(s\): 1 \(repeated in row\(s\) 2 .*Ids must be"),
        ([train_row(1), train_row(2, winner=None)], r"1 row\(s\) with no winner: id\(s\) 2\..*exactly one of"),
        ([train_row(5)[:6] + [1, 1, 0]], r"1 row\(s\) with several winners: id\(s\) 5"),
        ([train_row(7)[:6] + [1, "yes", 0]], r"winner columns must hold 0 or 1; row id\(s\) 7 .*'yes'.*Fix those"),
        ([train_row("abc")], r"id is not an integer in row\(s\) 1 below the header \(value\(s\) 'abc'\).*Fix"),
    ],
)
def test_bad_label_and_id_rows_name_file_and_row(tmp_path, rows, message):
    path = write_train(tmp_path / "train.csv", rows)
    with pytest.raises(ArenaDataError, match=message) as error:
        load_train(path)
    assert str(path) in str(error.value)


def test_missing_file_and_column(tmp_path):
    with pytest.raises(ArenaDataError, match=r"train.csv: file not found.*kaggle competitions download"):
        load_train(tmp_path / "train.csv")
    pd.DataFrame({"id": [1], "prompt": ['["x"]'], "response_a": ['["y"]']}).to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(ArenaDataError, match=r"test.csv: missing column\(s\) response_b"):
        load_test(tmp_path / "test.csv")


def test_sample_submission_must_match_test_ids(tmp_path, synthetic_dir):
    for name in ("train.csv", "test.csv"):
        (tmp_path / name).write_bytes((synthetic_dir / name).read_bytes())
    sample = pd.read_csv(synthetic_dir / "sample_submission.csv")
    sample.iloc[1:].to_csv(tmp_path / "sample_submission.csv", index=False)
    with pytest.raises(
        ArenaDataError,
        match=rf"sample_submission.csv: ids differ from test.csv \(1 test id\(s\) missing \(e.g. {sample['id'][0]}\)\)\. Use the two files",
    ) as error:
        load_competition(tmp_path)
    assert "not in test.csv" not in str(error.value)  # only what is there: no "0 id(s) not in test.csv, e.g. "


def test_clean_text_repairs_and_keeps_indentation():
    code = "def f():\n    return 1\n\tpass"
    assert clean_text(code) == code
    assert clean_text("a\r\nb\rc") == "a\nb\nc"
    assert clean_text("bro\ud83dken \x00bell\x07") == "broken bell"
    assert clean_text("line  \n\n\n\nnext\u00a0word \t") == "line\n\nnext word"
    assert clean_text("\n\n  indented first line") == "  indented first line"
    assert parse_turns('["\\ud83d\\ude00 ok", "\\ud83d alone"]').turns == ("\U0001f600 ok", " alone")


def test_swap_ab_exchanges_sides_and_labels(real_sample_dir):
    train = load_competition(real_sample_dir).train.head(50)
    swapped = swap_ab(train)
    assert list(swapped.columns) == list(train.columns)
    assert (swapped["response_a"] == train["response_b"]).all() and (swapped["model_b"] == train["model_a"]).all()
    assert (swapped["response_turns_a"] == train["response_turns_b"]).all()
    assert (swapped["winner_model_a"] == train["winner_model_b"]).all()
    expected = train["label"].map({0: 1, 1: 0, 2: 2})
    assert (swapped["label"] == expected).all()
    assert (swapped[list(CLASS_COLUMNS)].to_numpy().argmax(axis=1) == swapped["label"]).all()
    pd.testing.assert_frame_equal(swap_ab(swapped), train)
