"""One member's fault never stops the submission: damaged predictions or fold folders leave that member out in bold.

Two baseline models (3 folds on 120 synthetic rows) are trained once; each test damages its own
copy of the run folder the way a crash, an edit or a partial copy would, runs the ensemble to
the end, and checks the damaged member is named in bold with the file, and the other submits.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from arenakit.core.artifacts import OOF_FILE, TEST_FILE, load_prediction_frame
from arenakit.core.errors import ArtifactError
from arenakit.core.schema import CLASS_COLUMNS
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.data.synthetic import write_sample
from arenakit.ensemble import EnsembleRun
from arenakit.evaluation.submission import validate_submission
from arenakit.kaggle_build.manifest import SourceState, write_manifest
from arenakit.kaggle_build.models_dataset import check_run, stage_models
from arenakit.models.baseline import BaselineModel
from arenakit.pipeline.cv import cross_validate

MODELS = ("baseline", "second")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run folder with two baseline members, its data folder)."""
    root = tmp_path_factory.mktemp("member-checks")
    data_dir = write_sample(root / "data", n_train=120, n_test=12, seed=5)
    competition = load_competition(data_dir)
    folds = shared_folds(root / "run", competition.train, n_folds=3, seed=0)
    for name, C in zip(MODELS, (1.0, 0.1)):
        run = cross_validate(
            BaselineModel(C=C), competition.train, folds, test=competition.test, name=name, progress=False
        )
        run.save(root / "run", competition.train, competition.test)
    return root / "run", data_dir


@pytest.fixture
def run_dir(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained[0], copy)
    return copy


@pytest.fixture
def dataset(run_dir, tmp_path):
    """The models dataset build.py would upload for the run (its files and manifest.json), as mounted."""
    folder = tmp_path / "arenakit-models"
    stage_models(check_run(run_dir), folder)
    write_manifest(folder, SourceState("0" * 40, False))
    return folder


def _submit_without(run_dir, data_dir, damaged: str | None) -> EnsembleRun:
    """Run the ensemble to its submission; the damaged member (if any) must be left out in bold, the other used."""
    competition = load_competition(data_dir)
    run = EnsembleRun(run_dir, competition, models=list(MODELS))
    assert run.names == [name for name in MODELS if name != damaged]
    if damaged is None:
        assert run.notices == []
    else:
        assert len(run.notices) == 1 and run.notices[0].startswith(f"**Left out {damaged}: ")
        assert run.notices[0].endswith("**")
    run.plan_budget(timing_rows=4)
    run.fit_blend()
    run.predict_test()
    run.write_submission()
    validate_submission(pd.read_csv(run_dir / "submission.csv"), competition.test["id"])
    return run


def _set_row(path, row: int, values) -> int:
    frame = pd.read_csv(path)
    frame.loc[row, list(CLASS_COLUMNS)] = values
    frame.to_csv(path, index=False)
    return int(frame["id"][row])


def test_an_oof_row_outside_0_1_that_sums_to_1_leaves_the_member_out(trained, run_dir):
    path = run_dir / "second" / OOF_FILE
    bad_id = _set_row(path, 7, [1.5, -0.25, -0.25])
    run = _submit_without(run_dir, trained[1], "second")
    assert f"{path}: 1 row(s) whose probabilities lie outside [0, 1] (ids {bad_id})" in run.notices[0]


def test_a_bad_test_prediction_row_leaves_the_member_out(trained, run_dir):
    path = run_dir / "baseline" / TEST_FILE
    bad_id = _set_row(path, 2, [float("nan"), 0.5, 0.5])
    run = _submit_without(run_dir, trained[1], "baseline")
    assert f"{path}: 1 row(s) whose probabilities are not finite (NaN or infinite) (ids {bad_id})" in run.notices[0]


def test_a_fold_missing_from_what_metrics_names_leaves_the_member_out(trained, run_dir):
    shutil.rmtree(run_dir / "second" / "folds" / "fold_2")
    run = _submit_without(run_dir, trained[1], "second")
    assert (
        f"{run_dir / 'second' / 'metrics.json'} names folds [0, 1, 2] but {run_dir / 'second' / 'folds'} holds "
        "folds [0, 1]: fold_2 is missing" in run.notices[0]
    )
    assert "Copy the model folder again from where it was trained" in run.notices[0]


@pytest.mark.parametrize(
    "values, what",
    [
        ([1.5, -0.25, -0.25], "lie outside [0, 1]"),
        ([0.5, 0.5, 0.5], "do not sum to 1 (within 0.001)"),
        ([float("inf"), 0.0, 0.0], "are not finite (NaN or infinite)"),
    ],
)
def test_saved_predictions_are_held_to_the_live_rules(trained, tmp_path, values, what):
    path = tmp_path / OOF_FILE
    shutil.copy(trained[0] / "baseline" / OOF_FILE, path)
    bad_id = _set_row(path, 0, values)
    with pytest.raises(ArtifactError) as error:
        load_prediction_frame(path)
    assert (
        str(error.value) == f"{path}: 1 row(s) whose probabilities {what} (ids {bad_id}). Re-run that model's notebook."
    )


def test_a_models_dataset_loads_as_built(trained, dataset):
    _submit_without(dataset, trained[1], None)


def test_coefficients_edited_after_the_build_leave_the_member_out(trained, dataset):
    path = dataset / "second" / "folds" / "fold_0" / "baseline.npz"
    with np.load(path) as archive:
        arrays = dict(archive)
    np.savez(path, **{**arrays, "coef": -arrays["coef"]})  # the signs flipped: it still loads and predicts
    run = _submit_without(dataset, trained[1], "second")
    assert (
        f"{dataset / 'second'} does not match {dataset / 'manifest.json'}: 1 file(s) differ from the sha256 recorded "
        "at the build: folds/fold_0/baseline.npz. Its files were changed after the build; build the dataset again"
        in run.notices[0]
    )


def test_files_added_or_missing_after_the_build_leave_the_member_out(trained, dataset):
    (dataset / "baseline" / "folds" / "fold_1" / "extra.bin").write_bytes(b"not built")
    (dataset / "baseline" / TEST_FILE).unlink()
    run = _submit_without(dataset, trained[1], "baseline")
    assert (
        "1 file(s) are not in the manifest (added after the build): folds/fold_1/extra.bin; "
        "1 file(s) are in the manifest but missing: test.csv." in run.notices[0]
    )
