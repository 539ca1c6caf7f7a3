"""Folds: grouped by prompt, stratified by label, seeded, shared through the run folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenakit.core.errors import ArenaDataError, ArtifactError
from arenakit.data import load_competition
from arenakit.data.folds import assign_folds, load_folds, prompt_groups, shared_folds


def check_folds(folds, labels, groups, n_folds, tolerance):
    assert sorted(np.unique(folds)) == list(range(n_folds))
    assert (pd.Series(folds).groupby(groups).nunique() == 1).all(), "a prompt sits in two folds"
    overall = np.bincount(labels, minlength=3) / len(labels)
    for fold in range(n_folds):
        shares = np.bincount(labels[folds == fold], minlength=3) / (folds == fold).sum()
        assert np.abs(shares - overall).max() < tolerance
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 0.05 * len(labels) / n_folds + 2


def test_folds_on_real_rows(real_sample_dir):
    train = load_competition(real_sample_dir).train
    groups = prompt_groups(train)
    assert groups.max() + 1 < len(train), "the sample has repeated prompts; the test needs them"
    folds = assign_folds(train["label"].to_numpy(), groups, n_folds=5, seed=42)
    check_folds(folds, train["label"].to_numpy(), groups, 5, tolerance=0.02)


def test_folds_with_many_repeated_prompts():
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 400, 3000)  # about 7 rows per prompt
    labels = rng.choice(3, 3000, p=[0.35, 0.34, 0.31])
    folds = assign_folds(labels, groups, n_folds=4, seed=1)
    check_folds(folds, labels, groups, 4, tolerance=0.03)


def test_folds_are_seeded():
    rng = np.random.default_rng(0)
    groups, labels = rng.integers(0, 500, 800), rng.integers(0, 3, 800)
    assert (assign_folds(labels, groups, 5, seed=1) == assign_folds(labels, groups, 5, seed=1)).all()
    assert (assign_folds(labels, groups, 5, seed=1) != assign_folds(labels, groups, 5, seed=2)).any()
    with pytest.raises(ValueError, match="at least 2"):
        assign_folds(labels, groups, 1)


def test_shared_folds_are_saved_reused_and_guarded(tmp_path, synthetic_dir):
    train = load_competition(synthetic_dir).train
    first = shared_folds(tmp_path, train, n_folds=3, seed=5)
    assert (tmp_path / "folds.csv").exists() and (tmp_path / "folds.json").exists()
    # Another model of the same run, with the rows in another order, gets the same assignment.
    shuffled = train.sample(frac=1.0, random_state=0)
    again = shared_folds(tmp_path, shuffled, n_folds=3, seed=5)
    assert (pd.Series(again, index=shuffled["id"]).loc[train["id"]].to_numpy() == first).all()
    with pytest.raises(ArenaDataError, match="holds 3 folds with seed 5, but this notebook asks for 5 folds"):
        shared_folds(tmp_path, train, n_folds=5, seed=5)
    with pytest.raises(ArenaDataError, match=r"made for other data: it holds 600 rows for 599 train rows\. Delete it"):
        load_folds(tmp_path, train.iloc[1:])


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "folds.csv",
            "id,fold\n1,0\n2,x\n3,1.5\n",
            r"folds\.csv: 2 line\(s\) without an integer id and fold \(lines 3, 4\)",
        ),
        ("folds.csv", "row,fold\n1,0\n", r"folds\.csv: columns are row, fold, not id, fold"),
        ("folds.csv", b"id,fold\n\xff\xfe1,0\n", r"folds\.csv: not readable as a fold table \(UnicodeDecodeError\)"),
        ("folds.json", '{"n_folds": 5, "se', r"folds\.json: not readable as the run's fold settings"),
        ("folds.json", '{"n_folds": 5}', r"folds\.json: n_folds or seed is missing"),
    ],
)
def test_a_damaged_fold_file_is_named_with_what_to_do(tmp_path, synthetic_dir, file, content, message):
    train = load_competition(synthetic_dir).train.iloc[:30]
    shared_folds(tmp_path, train, n_folds=3, seed=0)
    path = tmp_path / file
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ArtifactError, match=message) as raised:
        shared_folds(tmp_path, train, n_folds=3, seed=0)
    advice = ("make the folds anew", "rerun what wrote it")  # folds.json goes through the kit's JSON reader
    assert str(tmp_path) in str(raised.value) and any(words in str(raised.value) for words in advice)
