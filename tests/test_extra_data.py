"""Extra data (issue 22): both formats, bad rows listed, duplicates of train, test and within (A/B swaps
included) dropped and counted per source, weights, ids, and the rule for prompts shared with train.

The competition files and the extra files are written by hand, so every count below is known.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arenakit.core.errors import ArenaDataError
from arenakit.core.schema import CLASS_COLUMNS, TEST_COLUMNS, TRAIN_COLUMNS, UNLABELLED, WEIGHT_COLUMN
from arenakit.data import extra_rows_for_fold, load_competition, read_extra_data, swap_ab


def cell(text: str) -> str:
    return json.dumps([text])


def write_csv(path, columns, rows):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def competition(tmp_path_factory):
    """Train: prompts p0..p5 (ids 1..6); test: one row (id 100)."""
    folder = tmp_path_factory.mktemp("extra-competition")
    train = [
        (k + 1, "m1", "m2", cell(f"prompt {k}"), cell(f"answer {k} a"), cell(f"answer {k} b"), 1, 0, 0)
        for k in range(6)
    ]
    write_csv(folder / "train.csv", TRAIN_COLUMNS, train)
    write_csv(folder / "test.csv", TEST_COLUMNS, [(100, cell("test prompt"), cell("test a"), cell("test b"))])
    pd.DataFrame({"id": [100], **{c: [1 / 3] for c in CLASS_COLUMNS}}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return load_competition(folder)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A competition-format CSV with winner columns and a pairwise JSON Lines file, with known duplicates."""
    folder = tmp_path_factory.mktemp("extra-files")
    columns = ["id", "model_a", "model_b", "prompt", "response_a", "response_b", *CLASS_COLUMNS]
    competition_rows = [
        ("a1", "x", "y", cell("prompt 0"), cell("answer 0 a"), cell("answer 0 b"), 0, 1, 0),  # = train id 1
        ("a2", "x", "y", cell("PROMPT  1"), cell("Answer 1 B"), cell("answer 1 a "), 1, 0, 0),  # train id 2, swapped
        ("a3", "x", "y", cell("test prompt"), cell("test b"), cell("test a"), 0, 0, 1),  # test row, swapped
        ("a4", "x", "y", cell("new prompt"), cell("reply one"), cell("reply two"), 1, 0, 0),
        ("a5", "x", "y", cell("new prompt"), cell("reply two"), cell("reply one"), 0, 1, 0),  # = a4, swapped
        ("a6", "x", "y", cell("Prompt 3"), cell("other reply"), cell("another reply"), 0, 0, 1),  # train prompt 3
        ("a7", "x", "y", cell("fresh"), cell("r1"), cell("r2"), "", "", ""),  # no winner: unlabelled
        ("a8", "x", "y", cell("broken"), cell("r1"), cell("r2"), 1, 1, 0),  # bad: two winners
        ("a9", "x", "y", '["unclosed', cell("r1"), cell("r2"), 0, 1, 0),  # kept as raw text, listed
    ]
    comp_path = write_csv(folder / "arena33k.csv", columns, competition_rows)
    pairwise = [
        {"prompt": "pair one", "response_a": "left", "response_b": "right", "label": "A"},
        {"prompt": "pair two", "response_a": "left", "response_b": "right", "label": "b"},
        {"prompt": "pair three", "response_a": "left", "response_b": "right", "label": "Tie"},
        {"prompt": "pair four", "response_a": "left", "response_b": "right", "label": 1},
        {"prompt": "pair five", "response_a": "left", "response_b": "right", "label": ""},
        {"prompt": "pair six", "response_a": "left", "response_b": "right", "label": "maybe"},  # bad label
        {"prompt": "New prompt", "response_a": "reply one", "response_b": "reply two", "label": "B"},  # = a4
        {"prompt": "prompt 4", "response_a": "answer 4 b", "response_b": "answer 4 a", "label": "0"},  # train id 5
        {"prompt": "pair seven", "response_a": "", "response_b": "right", "label": "a"},  # kept, empty cell listed
    ]
    pair_path = folder / "pairs.jsonl"
    pair_path.write_text("".join(json.dumps(row) + "\n" for row in pairwise), encoding="utf-8")
    return comp_path, pair_path


@pytest.fixture(scope="module")
def read(competition, files):
    with pytest.warns(UserWarning, match=r"2 row\(s\) left out .*arena33k.csv row 8: 2 winner columns"):
        return read_extra_data(files, competition.train, competition.test, weights={"pairs": 0.5})


def test_both_formats_give_the_train_frames_columns_labels_and_the_documented_label_mapping(competition, read):
    extra, report = read
    assert set(competition.train.columns) <= set(extra.columns)
    assert (extra.dtypes[list(competition.train.columns)] == competition.train.dtypes).all()
    by_prompt = extra.set_index("prompt")
    assert by_prompt.loc["new prompt", "label"] == 0 and by_prompt.loc["Prompt 3", "label"] == 2
    assert by_prompt.loc["fresh", "label"] == UNLABELLED
    labels = [by_prompt.loc[f"pair {n}", "label"] for n in ("one", "two", "three", "four", "five", "seven")]
    assert labels == [0, 1, 2, 1, -1, 0]
    assert by_prompt.loc["pair seven", ["null_response_a", "null_response_b"]].tolist() == [True, False]
    assert by_prompt.loc["pair one", "response_turns_a"] == ("left",)  # plain text is one turn
    assert by_prompt.loc["fresh", list(CLASS_COLUMNS)].tolist() == [0, 0, 0]
    assert report.sources.set_index("source")["format"].to_dict() == {"arena33k": "competition", "pairs": "pairwise"}
    # swap_ab takes the frame: labels 0 and 1 trade places, an unlabelled row stays unlabelled
    swapped = swap_ab(extra)
    assert (swapped["response_a"] == extra["response_b"]).all()
    assert swapped["label"].tolist() == [{0: 1, 1: 0}.get(label, label) for label in extra["label"]]


def test_duplicates_of_train_test_and_within_are_dropped_and_counted_per_source(read):
    extra, report = read
    counts = report.sources.set_index("source")
    columns = ["rows_read", "bad_rows", "duplicates_of_train", "duplicates_of_test", "duplicates_within", "kept"]
    assert counts.loc["arena33k", columns].tolist() == [9, 1, 2, 1, 1, 4]
    assert counts.loc["pairs", columns].tolist() == [9, 1, 1, 0, 1, 6]
    assert counts.loc["arena33k", ["labelled", "unlabelled"]].tolist() == [3, 1]
    assert counts.loc["pairs", ["labelled", "unlabelled"]].tolist() == [5, 1]
    assert sorted(extra["prompt"]) == sorted(
        [
            "new prompt",
            "Prompt 3",
            "fresh",
            '["unclosed',
            "pair one",
            "pair two",
            "pair three",
            "pair four",
            "pair five",
            "pair seven",
        ]
    )
    summary = report.to_dict()
    json.dumps(summary)  # JSON-able for metrics.json
    assert summary["total"]["kept"] == 10 and summary["total"]["duplicates_of_train"] == 3
    printed = str(report)
    assert "10 rows kept from 2 source(s)" in printed and "an A/B swap is a duplicate" in printed


def test_bad_rows_are_listed_with_file_row_and_problem_and_repaired_cells_as_issues(read):
    _, report = read
    bad = report.bad_rows.set_index("file")
    assert bad.loc["arena33k.csv", "row"] == 8 and bad.loc["arena33k.csv", "id"] == "a8"
    assert "exactly one is needed" in bad.loc["arena33k.csv", "problem"]
    assert (
        bad.loc["pairs.jsonl", "row"] == 6
        and "label 'maybe' is not one of A, B, tie" in bad.loc["pairs.jsonl", "problem"]
    )
    issues = report.issues_frame()
    assert issues[["file", "row_id", "column"]].values.tolist() == [
        ["arena33k.csv", 9, "prompt"],
        ["pairs.jsonl", 9, "response_a"],
    ]
    assert "not valid JSON" in issues["problem"].iloc[0] and issues["problem"].iloc[1] == "empty cell"


def test_weights_ids_and_sources(competition, files, read, tmp_path):
    extra, _ = read
    assert extra.groupby("source")[WEIGHT_COLUMN].unique().map(list).to_dict() == {"arena33k": [1.0], "pairs": [0.5]}
    assert (extra["id"] < 0).all() and extra["id"].is_unique
    assert not set(extra["id"]) & (set(competition.train["id"]) | set(competition.test["id"]))
    assert extra.set_index("prompt").loc["new prompt", ["source_row", "source_id"]].tolist() == [4, "a4"]
    # Ids come from the rows' content: another file name and row order give the same ids.
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text("".join(reversed(files[1].read_text(encoding="utf-8").splitlines(True))), encoding="utf-8")
    with pytest.warns(UserWarning):
        again, report = read_extra_data([renamed], competition.train, competition.test)
    mine = extra[extra["source"] == "pairs"].set_index("prompt")["id"]
    assert again.set_index("prompt")["id"].reindex(mine.index).tolist() == mine.tolist()
    assert report.sources["weight"].tolist() == [1.0]


def test_a_prompt_shared_with_train_stays_out_of_the_fold_that_validates_it(competition, files, read):
    extra, report = read
    folds = np.array([0, 0, 1, 1, 2, 2])  # train prompt 3 (id 4) sits in fold 1
    shared = (extra["prompt"] == "Prompt 3").to_numpy()
    assert report.sources.set_index("source").loc["arena33k", "shares_train_prompt"] == 1
    assert not extra_rows_for_fold(extra, competition.train, folds, 1)[shared].any()
    for fold in (0, 2):
        assert extra_rows_for_fold(extra, competition.train, folds, fold).all()
    with pytest.warns(UserWarning):
        dropped, report = read_extra_data(files, competition.train, competition.test, shared_prompts="drop")
    assert "Prompt 3" not in set(dropped["prompt"])
    assert report.sources.set_index("source").loc["arena33k", "shared_train_prompt_dropped"] == 1


@pytest.mark.parametrize(
    "kind, message",
    [
        ("columns", r"bad.csv: missing column\(s\) response_b; found prompt, response_a"),
        ("suffix", r"bad.txt: extra data is read from .csv, .jsonl, .json files"),
        ("weight", r"weight of 'bad' is -1; a weight is a number above 0"),
        ("unknown", r"weights name 'other', which is not a source; the sources are 'bad'"),
        ("winners", r"bad.csv: has winner_model_a but not winner_model_b, winner_tie"),
    ],
)
def test_unusable_files_and_weights_are_refused_naming_the_file(competition, tmp_path, kind, message):
    columns = ["prompt", "response_a", "response_b"]
    rows = [("p", "a", "b")]
    weights = {"weight": {"bad": -1}, "unknown": {"other": 2.0}}.get(kind)
    if kind == "columns":
        columns, rows = columns[:2], [("p", "a")]
    if kind == "winners":
        columns, rows = [*columns, "winner_model_a"], [("p", "a", "b", 1)]
    path = write_csv(tmp_path / ("bad.txt" if kind == "suffix" else "bad.csv"), columns, rows)
    with pytest.raises(ArenaDataError, match=message):
        read_extra_data([path], competition.train, competition.test, weights=weights)
