"""The synthetic sample must look like the competition's files to every part of the kit."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from arenakit.core.schema import (
    CLASS_COLUMNS,
    SAMPLE_SUBMISSION_FILE,
    SUBMISSION_COLUMNS,
    TEST_COLUMNS,
    TEST_FILE,
    TEXT_COLUMNS,
    TRAIN_COLUMNS,
    TRAIN_FILE,
)
from arenakit.data.synthetic.sample import generate, main, write_sample
from arenakit.data.synthetic.text import MODELS

N_TRAIN, N_TEST = 3000, 300
REAL_SAMPLE = Path("/work/shared/data/arena-sample")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("sample"), N_TRAIN, N_TEST, seed=0)


@pytest.fixture(scope="module")
def train(sample_dir):
    return pd.read_csv(sample_dir / TRAIN_FILE)


@pytest.fixture(scope="module")
def test(sample_dir):
    return pd.read_csv(sample_dir / TEST_FILE)


@pytest.fixture(scope="module")
def turns(train):
    """Decoded JSON lists, per text column."""
    return {c: train[c].map(json.loads) for c in TEXT_COLUMNS}


@pytest.fixture(scope="module")
def texts(turns):
    """All decoded response turns joined into one string, for presence checks."""
    return "\n".join(t for c in ("response_a", "response_b") for row in turns[c] for t in row if t)


def test_files_have_exactly_the_competition_columns(sample_dir, train, test):
    submission = pd.read_csv(sample_dir / SAMPLE_SUBMISSION_FILE)
    assert list(train.columns) == list(TRAIN_COLUMNS)
    assert list(test.columns) == list(TEST_COLUMNS)
    assert list(submission.columns) == list(SUBMISSION_COLUMNS)
    assert (len(train), len(test), len(submission)) == (N_TRAIN, N_TEST, N_TEST)
    assert train["id"].dtype == np.int64 and test["id"].dtype == np.int64


@pytest.mark.skipif(not REAL_SAMPLE.is_dir(), reason="real arena sample not available")
def test_header_matches_the_real_file(sample_dir):
    for name in (TRAIN_FILE, TEST_FILE, SAMPLE_SUBMISSION_FILE):
        ours = (sample_dir / name).read_text().splitlines()[0]
        assert ours == (REAL_SAMPLE / name).read_text().splitlines()[0]


def test_json_fields_are_lists_of_turns_with_equal_counts(train, turns):
    for column, values in turns.items():
        for row in values:
            assert isinstance(row, list) and row, column
            assert all(t is None or isinstance(t, str) for t in row), column
    counts = {c: turns[c].map(len).to_numpy() for c in TEXT_COLUMNS}
    assert (counts["prompt"] == counts["response_a"]).all()
    assert (counts["prompt"] == counts["response_b"]).all()
    assert counts["prompt"].min() >= 1 and counts["prompt"].max() <= 4


def test_json_is_encoded_like_the_real_file(train):
    """ensure_ascii, compact separators and "/" written as "\\/": re-encoding gives the same bytes."""
    for column in TEXT_COLUMNS:
        for raw in train[column]:
            again = json.dumps(json.loads(raw), ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")
            assert raw == again
    assert train["response_a"].str.contains("\\/", regex=False).any()


def test_multi_turn_share(turns):
    share = (turns["prompt"].map(len) > 1).mean()
    assert 0.08 <= share <= 0.16


def test_rare_features_are_present(train, turns, texts):
    responses = pd.concat([train["response_a"], train["response_b"]])
    assert (responses == "[null]").any()
    assert ((train["response_a"] == "[null]") & (train["response_b"] == "[null]")).sum() in (1, 2)
    multi_with_null = [r for c in ("response_a", "response_b") for r in turns[c] if len(r) > 1 and None in r]
    assert multi_with_null
    assert re.search("[\u4e00-\u9fff]", texts), "CJK"
    assert re.search("[\u0400-\u04ff]", texts), "Cyrillic"
    assert re.search("[\U0001f300-\U0001faff]", texts), "emoji"
    assert re.search(r"```\w+\n(.*\n)*    \S", texts), "code fence with indented code"
    assert re.search(r"^(#+ |\d+\. \*\*|- \*\*)", texts, re.M), "markdown headers/lists"
    assert "I'm sorry, but I can't" in texts or "As an AI language model, I cannot" in texts


def test_lengths_look_like_the_real_data(sample_dir, train):
    response_len = pd.concat([train["response_a"], train["response_b"]]).str.len()
    assert 700 <= response_len.median() <= 1400
    assert response_len.max() > 10_000
    assert 50 <= train["prompt"].str.len().median() <= 200
    bytes_per_row = (sample_dir / TRAIN_FILE).stat().st_size / N_TRAIN
    assert 2500 <= bytes_per_row <= 4200


def test_models_are_known_and_distinct(train):
    names = {m.name for m in MODELS}
    assert set(train["model_a"]) <= names and set(train["model_b"]) <= names
    assert (train["model_a"] != train["model_b"]).all()
    assert train["model_a"].nunique() >= 15


def test_exactly_one_winner_and_balanced_classes(train):
    y = train[list(CLASS_COLUMNS)].to_numpy()
    assert set(np.unique(y)) == {0, 1}
    assert (y.sum(axis=1) == 1).all()
    shares = y.mean(axis=0)
    assert ((shares > 0.25) & (shares < 0.42)).all(), shares


def test_length_difference_predicts_some_but_not_all(train):
    lengths = [np.log1p(train[c].str.len().to_numpy()) for c in ("response_a", "response_b")]
    diff = lengths[0] - lengths[1]
    x = np.c_[diff, np.abs(diff)]
    y = train[list(CLASS_COLUMNS)].to_numpy().argmax(axis=1)
    model = LogisticRegression().fit(x[:2000], y[:2000])
    loss = log_loss(y[2000:3000], model.predict_proba(x[2000:3000]), labels=[0, 1, 2])
    assert 0.8 < loss < 1.08 < math.log(3)
    decided = y < 2
    longer_wins = ((diff > 0) == (y == 0))[decided].mean()
    assert 0.55 < longer_wins < 0.72


def test_sample_submission_follows_test_ids(sample_dir, test):
    submission = pd.read_csv(sample_dir / SAMPLE_SUBMISSION_FILE)
    assert submission["id"].tolist() == test["id"].tolist()
    assert (submission[list(CLASS_COLUMNS)].to_numpy() == 1 / 3).all()


def test_ids_unique_across_train_and_test(train, test):
    ids = np.r_[train["id"].to_numpy(), test["id"].to_numpy()]
    assert len(np.unique(ids)) == len(ids)
    assert ids.min() >= 30_000 and ids.max() < 4_300_000_000
    assert train["id"].is_monotonic_increasing and test["id"].is_monotonic_increasing


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    files = (TRAIN_FILE, TEST_FILE, SAMPLE_SUBMISSION_FILE)
    first, again, other = (write_sample(tmp_path / d, 300, 30, seed=s) for d, s in (("a", 7), ("b", 7), ("c", 8)))
    for name in files:
        assert (first / name).read_bytes() == (again / name).read_bytes()
        assert (first / name).read_bytes() != (other / name).read_bytes()


def test_generate_handles_tiny_and_bad_sizes():
    train, test = generate(0, 0)
    assert list(train.columns) == list(TRAIN_COLUMNS) and list(test.columns) == list(TEST_COLUMNS)
    train, test = generate(1, 2, seed=3)
    assert (len(train), len(test)) == (1, 2)
    with pytest.raises(ValueError):
        generate(-1, 5)


def test_cli_writes_the_sample(tmp_path, capsys):
    main([str(tmp_path / "out"), "--train-rows", "40", "--test-rows", "4", "--seed", "2"])
    line = capsys.readouterr().out.strip()
    assert str(tmp_path / "out") in line and "40" in line and "4" in line
    assert len(pd.read_csv(tmp_path / "out" / TRAIN_FILE)) == 40
    assert len(pd.read_csv(tmp_path / "out" / TEST_FILE)) == 4


def test_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "arenakit.data.synthetic", str(tmp_path), "--train-rows", "10", "--test-rows", "2"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(result.stdout.strip().splitlines()) == 1
    assert (tmp_path / SAMPLE_SUBMISSION_FILE).is_file()
