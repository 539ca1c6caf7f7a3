"""The ensemble submission: notebook rerun on another test.csv, the hidden rerun at full size, partial
failure, time budget, the honest blend choice on real rows.

Two small models (baseline and MiniLM + LightGBM, 3 folds on 240 synthetic rows) are trained
once for the module; each test works on its own copy of that run folder.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from arenakit.core.schema import CLASS_COLUMNS, SAMPLE_SUBMISSION_FILE, TEST_FILE, TRAIN_FILE
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.data.synthetic import generate
from arenakit.ensemble import EnsembleRun, NoUsableModel
from arenakit.ensemble.benchmark import benchmark
from arenakit.ensemble.consistency import consistency
from arenakit.ensemble.run import MIN_PARTIAL_ROWS, TIMING_ROWS
from arenakit.evaluation.submission import validate_submission
from arenakit.kaggle_build.runner import run_pipeline
from arenakit.models.baseline import BaselineModel
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate
from conftest import REPO_ROOT

MODELS = ("baseline", "minilm_lgbm")
HIDDEN_ROWS = 25_000  # about the size of the hidden test.csv Kaggle's rerun swaps in


def read_raw(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_competition(folder, train, test):
    """A competition folder from raw (text) frames, with a sample_submission for its test ids."""
    folder.mkdir(parents=True)
    train.to_csv(folder / TRAIN_FILE, index=False)
    test.to_csv(folder / TEST_FILE, index=False)
    sample = pd.DataFrame({"id": test["id"], **{column: 1 / 3 for column in CLASS_COLUMNS}})
    sample.to_csv(folder / SAMPLE_SUBMISSION_FILE, index=False)
    return folder


def train_models(out_dir, data_dir, n_folds, seed, models):
    competition = load_competition(data_dir)
    folds = shared_folds(out_dir, competition.train, n_folds=n_folds, seed=seed)
    for name, model in models.items():
        run = cross_validate(model, competition.train, folds, test=competition.test, name=name, progress=False)
        run.save(out_dir, competition.train, competition.test)
    return competition


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_dir):
    """(run folder with both models trained, its data folder, a data folder with 50 other test rows)."""
    root = tmp_path_factory.mktemp("ensemble")
    train, test = read_raw(synthetic_dir / TRAIN_FILE).head(240), read_raw(synthetic_dir / TEST_FILE)
    data_dir = write_competition(root / "data", train, test.head(30))
    # The code-competition rerun: Kaggle swaps in a test.csv with other ids. Its rows are train texts
    # here, whose embeddings are cached already: the test is about ids, not about embedding speed.
    rerun = train.head(50)[list(test.columns)].assign(
        id=lambda frame: (frame["id"].astype(int) + 9_000_000).astype(str)
    )
    rerun_dir = write_competition(root / "rerun", train, rerun)
    train_models(
        root / "run",
        data_dir,
        n_folds=3,
        seed=0,
        models={
            "baseline": BaselineModel(),
            "minilm_lgbm": MiniLMLightGBMModel(max_rounds=300, early_stopping_rounds=30),
        },
    )
    return root / "run", data_dir, rerun_dir


@pytest.fixture
def run_dir(trained, tmp_path):
    """This test's own copy of the trained run folder."""
    copy = tmp_path / "run"
    shutil.copytree(trained[0], copy)
    return copy


def test_rerun_of_the_notebook_on_another_test_csv_writes_exactly_its_ids(trained, run_dir, capsys):
    _, _, rerun_dir = trained
    run_pipeline(
        REPO_ROOT / "notebooks",
        run_dir,
        data_dir=rerun_dir,
        names=["ensemble"],
        parameters={"models": list(MODELS), "timing_rows": 8},
    )
    printed = capsys.readouterr().out  # the runner says where the time went, cell by cell
    assert "where the time went" in printed and "  ensemble: " in printed and "kernel start and report" in printed
    expected = read_raw(rerun_dir / SAMPLE_SUBMISSION_FILE)["id"].astype(int)
    submission = pd.read_csv(run_dir / "submission.csv")
    assert submission["id"].tolist() == expected.tolist() and len(submission) == 50
    validate_submission(submission, expected, eps=1e-7)
    blend = json.loads((run_dir / "ensemble" / "blend.json").read_text())
    assert blend["chosen"] in ("fitted blend", "equal weights", *(f"single: {name}" for name in MODELS))
    assert blend["reason"].startswith(f"chose {blend['chosen']}: log loss") and blend["n_rows"] == 240
    assert sum(model["weight"] for model in blend["models"].values()) == pytest.approx(1.0)
    fitted = blend["fitted_blend"]["models"]
    assert set(fitted) == set(MODELS) and [fitted[name]["rows"] for name in MODELS] == [240, 240]
    executed = json.loads((run_dir / "ensemble.ipynb").read_text())
    text = "".join(
        "".join(output.get("text", ""))
        + "".join(output.get("data", {}).get("text/plain", ""))
        + "".join(output.get("data", {}).get("text/markdown", ""))
        for cell in executed["cells"]
        for output in cell.get("outputs", [])
    )
    assert "blend fitted on 240 of 240 train rows" in text and "estimated inference time for 50 test rows" in text
    assert blend["reason"] in text  # the notebook says which blend it chose and why
    assert "each model timed on 8 rows" in text
    assert "Left out" not in text and "over the time budget" not in text
    assert (run_dir / "ensemble.html").read_text().count("<img") >= 1
    assert (run_dir / "ensemble" / "plots" / "blend_weights.png").stat().st_size > 10_000
    # The cascade curve (issue 23): each later model's share of the rows against OOF log loss and time.
    assert (run_dir / "ensemble" / "plots" / "cascade.png").stat().st_size > 10_000


def test_same_test_csv_reproduces_the_stored_predictions_and_the_choice_is_honest(trained, run_dir):
    _, data_dir, _ = trained
    stale = run_dir / "submission.csv"
    stale.write_text("left by an earlier run\n")
    competition = load_competition(data_dir)
    run = EnsembleRun(run_dir, competition, models=list(MODELS))
    assert not stale.exists()
    assert run.members_table().index.tolist() == list(MODELS)
    plan = run.plan_budget(timing_rows=8)
    assert plan["runs"].all() and run.plan.steps == []
    for name in MODELS:  # the estimate: loading and warm-up, plus the timed rows' time per row for every test row
        timing = run.timer.timings[(name, tuple(sorted(run.plan.overrides[name].items())))]
        assert timing.rows == 8 and timing.seconds > 0 and timing.load_s > 0
        per_row = timing.seconds / timing.rows
        expected = timing.load_s + timing.warmup_s + per_row * len(competition.test)
        assert plan.loc[name, "estimate_s"] == pytest.approx(expected)
    comparison = run.fit_blend()
    singles = comparison.loc[[f"single: {name}" for name in MODELS], "log_loss"]
    assert comparison.loc["fitted blend", "in_sample"] <= singles.min() + 1e-12
    chosen = comparison.index[comparison["chosen"]].tolist()
    assert chosen == [run.choice.chosen] and comparison.loc[chosen[0], "log_loss"] == comparison["log_loss"].min()
    assert comparison.loc[chosen[0], "log_loss"] <= singles.min()
    inference = run.predict_test()
    assert inference.index.tolist() == list(run.blend.used) and (inference["test_rows"] == 30).all()
    gaps = consistency(run.members, competition.test["id"], run.test_proba)
    assert gaps.index.tolist() == list(run.blend.used)
    assert (gaps["max_gap_vs_stored"] < 1e-7).all()  # same fold models and settings; stored with 8 digits
    frame = run.write_submission()
    assert len(frame) == 30 and run.notices == []
    metrics = json.loads((run_dir / "ensemble" / "metrics.json").read_text())
    assert metrics["oof_log_loss"] == pytest.approx(comparison.loc[run.choice.chosen, "log_loss"])
    assert metrics["chosen"] == run.choice.chosen and metrics["reason"] == run.choice.reason
    assert metrics["comparison"]["fitted blend"]["rows"] == 240 and metrics["models"] == list(MODELS)
    assert metrics["submission_models"] == list(run.blend.used) and metrics["not_blended"] == {}
    oof = pd.read_csv(run_dir / "ensemble" / "oof.csv")
    np.testing.assert_allclose(oof[list(CLASS_COLUMNS)].to_numpy(), run.choice.oof, atol=1e-7)
    assert {"fit the blend", *(f"inference: {name}" for name in run.blend.used)} <= set(run.time_table().index)


def test_missing_and_broken_models_are_left_out_in_bold_and_the_rest_still_submits(trained, run_dir, capsys):
    _, data_dir, _ = trained
    (run_dir / "minilm_lgbm" / "folds" / "fold_1" / "lightgbm.txt").unlink()
    run = EnsembleRun(run_dir, load_competition(data_dir), models=["baseline", "minilm_lgbm", "deberta_lora"])
    assert run.names == ["baseline"]
    # The fold file's absence is found by the folder's completion record, before any fold model loads.
    missing = run_dir / "minilm_lgbm" / "folds" / "fold_1" / "lightgbm.txt"
    assert run.notices[0].startswith(f"**Left out minilm_lgbm: artifacts in {run_dir / 'minilm_lgbm'} cannot be used")
    assert f"{missing}: missing, though {run_dir / 'minilm_lgbm' / 'complete.json'} lists it" in run.notices[0]
    assert run.notices[1].startswith("**Left out deberta_lora: no model folder found") and run.notices[1].endswith("**")
    assert "the blend weights are fitted on those alone" in capsys.readouterr().out
    run.plan_budget(timing_rows=4)
    run.fit_blend()
    run.predict_test()
    run.write_submission()
    assert run.blend.names == ("baseline",) and run.blend.weights.tolist() == [1.0]
    validate_submission(pd.read_csv(run_dir / "submission.csv"), load_competition(data_dir).test["id"])


def test_a_model_trained_on_too_few_rows_stays_out_of_the_blend_and_the_others_keep_every_row(trained, run_dir):
    _, data_dir, _ = trained
    competition = load_competition(data_dir)
    folds = shared_folds(run_dir, competition.train, n_folds=3, seed=0)  # the run's saved folds
    cross_validate(
        BaselineModel(C=0.03), competition.train, folds, name="fold_0_only", only_folds=[0], progress=False
    ).save(run_dir, competition.train, competition.test)
    fold_0_rows = int((folds == 0).sum())
    run = EnsembleRun(run_dir, competition, models=[*MODELS, "fold_0_only"])
    run.plan_budget(timing_rows=4)
    comparison = run.fit_blend()
    reason = (
        f"it predicted {fold_0_rows} of the 240 train rows out-of-fold (trained on folds [0]), fewer than "
        f"{MIN_PARTIAL_ROWS}: too few to judge its weight. Train it on more folds or rows to blend it"
    )
    assert run.notices == [f"**Not in the blend: fold_0_only: {reason}.**"] and run.not_blended == {
        "fold_0_only": reason
    }
    assert run.choice.fitted.names == MODELS and run.choice.fitted.model_rows == (240, 240)
    assert (comparison["rows"] == 240).all() and not comparison.index.str.contains("fold_0_only").any()
    run.predict_test()
    run.write_submission()
    metrics = json.loads((run_dir / "ensemble" / "metrics.json").read_text())
    assert metrics["models"] == [*MODELS, "fold_0_only"] and metrics["left_out"] == {}  # it took part
    assert metrics["not_blended"] == {"fold_0_only": reason} and "fold_0_only" not in metrics["submission_models"]
    assert "fold_0_only" not in run.test_proba  # its inference is not run


def test_with_no_usable_model_it_fails_clearly_and_writes_nothing(trained, run_dir):
    _, data_dir, _ = trained
    shutil.rmtree(run_dir / "baseline" / "folds")
    (run_dir / "submission.csv").write_text("stale\n")
    with pytest.raises(
        NoUsableModel,
        match=r"(?s)no usable model.*baseline: no model folder found.*"
        r"deberta_lora: no model folder found.*python build.py run",
    ):
        EnsembleRun(run_dir, load_competition(data_dir), models=["baseline", "deberta_lora"])
    assert not (run_dir / "submission.csv").exists()


def test_over_budget_it_drops_swap_averaging_then_the_slowest_model(trained, run_dir):
    _, data_dir, _ = trained
    run = EnsembleRun(run_dir, load_competition(data_dir), models=list(MODELS), time_budget_s=1e-3)
    plan = run.plan_budget(timing_rows=4)
    slower, faster = plan["estimate_s"].sort_values(ascending=False).index[:2]  # measured, not assumed
    steps = [notice.split(": ", 1)[1].split(";")[0] for notice in run.notices[:3]]
    assert steps[:3] == [
        f"swap-averaging off for {slower}",
        f"swap-averaging off for {faster}",
        f"dropped {slower}, the slowest model",
    ]
    assert "still exceeds the budget" in run.notices[3] and len(run.notices) == 4
    assert run.names == [faster] and run.plan.overrides[faster] == {"swap_average": False}
    run.fit_blend()
    run.predict_test()
    assert len(run.write_submission()) == 30
    table = benchmark(run.members, load_competition(data_dir), n_rows=25_000, timing_rows=4)
    assert table.index.tolist() == [faster] and table.loc[faster, "estimate_s_25000"] > table.loc[faster, "load_s"]


@pytest.fixture(scope="module")
def hidden_rerun(tmp_path_factory, synthetic_dir):
    """(run folder, data folder) for the hidden rerun: two cheap CPU models, 2 folds on 240 synthetic rows,
    and a test.csv of 25,000 new synthetic rows in an unsorted order, as Kaggle swaps in."""
    root = tmp_path_factory.mktemp("hidden-rerun")
    train = read_raw(synthetic_dir / TRAIN_FILE).head(240)
    train_models(
        root / "run",
        write_competition(root / "trained", train, read_raw(synthetic_dir / TEST_FILE).head(10)),
        n_folds=2,
        seed=0,
        # C fixed: the inner CV that chooses it would cost CI seconds and change nothing tested here.
        models={"baseline": BaselineModel(C=0.03), "baseline_all_features": BaselineModel(C=0.03, columns=None)},
    )
    hidden = generate(0, HIDDEN_ROWS, seed=11)[1].sample(frac=1, random_state=0)
    return root / "run", write_competition(root / "hidden", train, hidden)


def test_the_hidden_rerun_at_full_size_with_a_model_failing_mid_inference(hidden_rerun, monkeypatch):
    """Kaggle's rerun on 25,000 rows, with the CPU models that run at that size within CI's minute: two
    baselines (their features run at thousands of rows a second). MiniLM would spend many minutes
    embedding 25,000 rows on a CPU; its timing is the same Timer, tested at small size above.
    """
    run_dir, data_dir = hidden_rerun
    competition = load_competition(data_dir)
    run = EnsembleRun(run_dir, competition, models=["baseline", "baseline_all_features"])
    plan = run.plan_budget()  # the notebook's default slice
    assert plan["runs"].all() and len(run.timer.timed_rows) == TIMING_ROWS
    run.fit_blend()
    # The last model the blend uses fails after its first fold model predicted every row, as a GPU
    # running out of memory half-way would; the other model carries the submission.
    failing = run.blend.used[-1]
    survivor = next(name for name in run.names if name != failing)
    member = next(member for member in run.members if member.name == failing)
    loaded = member.load(**run.plan.overrides[failing])  # the copy inference goes on with

    def out_of_memory(frame):
        raise MemoryError(f"simulated: out of memory on {len(frame)} rows")

    monkeypatch.setattr(loaded.models[1], "predict_proba", out_of_memory)
    inference = run.predict_test()
    assert inference.index.tolist() == [survivor] and run.names == [survivor]
    left_out = next(text for text in run.notices if text.startswith(f"**Left out {failing}"))
    failed_rows = HIDDEN_ROWS - TIMING_ROWS - 2  # those not predicted while timing
    assert f"test.csv failed: MemoryError: simulated: out of memory on {failed_rows} rows" in left_out
    assert "the blend weights are refitted on those alone" in left_out
    assert run.blend.used == (survivor,)
    assert run.choice.table.index.tolist() == [f"single: {survivor}", "fitted blend"]

    frame = run.write_submission()
    submission = pd.read_csv(run_dir / "submission.csv")
    expected = read_raw(data_dir / TEST_FILE)["id"].astype(int).tolist()
    assert submission["id"].tolist() == expected and len(set(expected)) == HIDDEN_ROWS == len(frame)
    validate_submission(submission, competition.test["id"])
    np.testing.assert_allclose(
        submission[list(CLASS_COLUMNS)], run.blend.predict({survivor: run.test_proba[survivor]}), atol=1e-5
    )
    metrics = json.loads((run_dir / "ensemble" / "metrics.json").read_text())
    assert metrics["models"] == metrics["submission_models"] == [survivor]
    assert "MemoryError" in metrics["left_out"][failing]

    # The estimate the budget planned with, against the time the survivor took from load to its last row.
    timing = run.timer.time(run.members[0], run.plan.overrides[survivor])  # kept from planning, not re-timed
    measured = timing.load_s + timing.warmup_s + timing.seconds + run.seconds[f"inference: {survivor}"]
    estimate = run.plan.estimates[survivor]
    print(f"{survivor} on {HIDDEN_ROWS} rows: estimated {estimate:.1f} s, measured {measured:.1f} s")
    assert measured / 2 <= estimate <= 2 * measured


def test_on_the_real_rows_the_submission_is_never_worse_than_its_best_member(real_sample_dir, tmp_path, capsys):
    competition = train_models(
        tmp_path,
        real_sample_dir,
        n_folds=5,
        seed=42,
        models={"baseline": BaselineModel(), "minilm_lgbm": MiniLMLightGBMModel()},
    )
    # A model trained on fold 0 only, as the LoRA notebook does by default: about 200 rows out-of-fold.
    folds = shared_folds(tmp_path, competition.train, n_folds=5, seed=42)
    cross_validate(
        BaselineModel(C=0.03, columns=None),
        competition.train,
        folds,
        name="fold_0_only",
        only_folds=[0],
        progress=False,
    ).save(tmp_path, competition.train, competition.test)
    fold_0_rows = int((folds == 0).sum())
    run = EnsembleRun(tmp_path, competition, models=[*MODELS, "fold_0_only"])
    comparison = run.fit_blend()
    print(comparison.round(4).to_string(), run.choice.reason, run.choice.fitted.table().round(3).to_string(), sep="\n")
    # The partial model comes in on its own rows; the others' weights keep all 999.
    assert run.choice.fitted.model_rows == (999, 999, fold_0_rows) and comparison.loc["fitted blend", "rows"] == 999
    chosen = comparison.loc[run.choice.chosen, "log_loss"]
    singles = comparison.loc[[f"single: {name}" for name in MODELS], "log_loss"]
    assert chosen <= singles.min() and chosen <= 1.030  # never worse than its best member; uniform is 1.0986
    assert (
        comparison.loc["fitted blend", "in_sample"] < comparison.loc["fitted blend", "log_loss"]
    )  # in-sample flatters
