"""A crash at any write point of a save never leaves a folder the kit uses as a mix of two runs (issue 21 item 2).

The worker (tests/crash_worker.py) saves a new baseline run over an old one and SIGKILLs itself at
each write point in turn; then the ensemble's load refuses the folder or finds one whole run, and
the notebook's rerun (the CV runner again) ends with the new run, whole.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arenakit.core.artifacts import load_prediction_frame
from arenakit.core.completion import COMPLETE_FILE, check_complete
from arenakit.data import load_competition
from arenakit.data.folds import load_folds
from arenakit.data.synthetic import write_sample
from arenakit.ensemble.members import MemberUnusable, load_member
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.models_dataset import check_run
from crash_worker import NEW, train_and_save

WORKER = Path(__file__).with_name("crash_worker.py")


@pytest.fixture(scope="module")
def crashes(tmp_path_factory):
    base = tmp_path_factory.mktemp("crashes")
    data = write_sample(base / "data", n_train=60, n_test=6, seed=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # forked children: no thread pools
    subprocess.run([sys.executable, str(WORKER), str(data), str(base / "out")], env=env, check=True, timeout=600)
    out = base / "out"
    return {"out": out, "competition": load_competition(data), **json.loads((out / "points.json").read_text())}


def _predictions(run: Path) -> dict:
    return {
        "oof": load_prediction_frame(run / "baseline" / "oof.csv"),
        "test": load_prediction_frame(run / "baseline" / "test.csv").to_numpy(),
    }


def _which_run(member, competition, references: dict) -> str:
    """Which reference run the loaded member is, by its OOF and by what its fold models predict; 'a mix' if neither."""
    test = member.load().predict_proba(competition.test)
    for name, reference in references.items():
        if member.oof.equals(reference["oof"]) and np.allclose(test, reference["test"], atol=1e-6):
            return name
    return "a mix"


def test_the_ensemble_refuses_every_half_saved_folder_and_never_mixes(crashes):
    out, competition = crashes["out"], crashes["competition"]
    references = {name: _predictions(out / f"reference_{name}") for name in ("old", "new")}
    assert not references["old"]["oof"].equals(references["new"]["oof"])  # the two runs differ
    # Every write of the save was a kill point: each fold's record, model.json and state, then the
    # model folder's record, oof.csv and its two orders apart (the baseline swap-averages), test.csv,
    # metrics.json, the fold models again and the final record.
    assert crashes["points"] == 25 and crashes["killed"] == list(range(1, 26))
    outcomes = {}
    for point in crashes["killed"]:
        try:
            member = load_member("baseline", out / f"kill_{point}", competition.train["id"])
        except MemberUnusable as error:
            assert f"{out / f'kill_{point}' / 'baseline'}/" in str(error)  # names the file
            outcomes[point] = "refused"
        else:
            outcomes[point] = _which_run(member, competition, references)
    # Killed before its first write commits, the folder is still the old run, whole; from the first
    # write on (which marks the folder unfinished), it is refused until the last write completes it.
    assert outcomes == {1: "old", **{point: "refused" for point in range(2, 26)}}


def test_the_rerun_of_the_notebook_after_any_kill_ends_with_the_new_run_whole(crashes):
    out, competition = crashes["out"], crashes["competition"]
    reference = _predictions(out / "reference_new")
    folds = load_folds(out / "reference_new", competition.train)
    for point in crashes["killed"]:
        run = out / f"kill_{point}"
        train_and_save(competition, folds, run, NEW)
        assert check_complete(run / "baseline") is not None
        rerun = _predictions(run)
        assert rerun["oof"].equals(reference["oof"]) and np.allclose(rerun["test"], reference["test"]), point
        assert not list((run / "baseline").rglob(".tmp-*")), point  # the killed save's temporaries are gone


def test_a_new_oof_beside_old_metrics_and_fold_models_is_refused_by_the_ensemble_and_the_build(crashes, tmp_path):
    """The issue's case: oof.csv of one run, metrics.json and fold models of another."""
    out, competition = crashes["out"], crashes["competition"]
    run = tmp_path / "run"
    shutil.copytree(out / "reference_old", run)
    shutil.copy(out / "reference_new" / "baseline" / "oof.csv", run / "baseline" / "oof.csv")
    oof = run / "baseline" / "oof.csv"
    with pytest.raises(MemberUnusable, match=rf"{oof}: differs from what .*complete.json recorded"):
        load_member("baseline", run, competition.train["id"])
    with pytest.raises(BuildError, match=rf"^{oof}: differs from what .*the folder mixes two saves"):
        check_run(run)


def test_a_folder_saved_before_completion_records_is_used_with_a_one_line_notice(crashes, tmp_path, capsys):
    out, competition = crashes["out"], crashes["competition"]
    run = tmp_path / "run"
    shutil.copytree(out / "reference_old", run)
    (run / "baseline" / COMPLETE_FILE).unlink()
    member = load_member("baseline", run, competition.train["id"])
    assert member.oof.equals(_predictions(out / "reference_old")["oof"])
    assert capsys.readouterr().out == (
        f"{run / 'baseline'}: no complete.json (saved by an older arenakit): it cannot be checked for a "
        "half-finished save\n"
    )


def test_the_cv_runner_trains_again_a_fold_whose_files_differ_from_its_model_json(crashes, tmp_path, capsys):
    out, competition = crashes["out"], crashes["competition"]
    run = tmp_path / "run"
    shutil.copytree(out / "reference_new", run)
    folds_dir = run / "baseline" / "folds"
    shutil.copy(folds_dir / "fold_1" / "baseline.npz", folds_dir / "fold_0" / "baseline.npz")  # fold.json still matches
    train_and_save(competition, load_folds(run, competition.train), run, NEW)
    printed = capsys.readouterr().out
    assert f"{folds_dir / 'fold_0' / 'baseline.npz'}: differs from what" in printed
    assert printed.count("that fold is trained again") == 1  # fold 1 is whole: reused
    assert _predictions(run)["oof"].equals(_predictions(out / "reference_new")["oof"])
