"""The cascade (issue 23): routing by a threshold fitted on OOF rows, one blend per stage, the honest choice,
the budget's cascade step, and the ensemble's records and plot.

Most tests build out-of-fold and test predictions in the test (no model is fitted); one trains two
cheap baselines on 240 synthetic rows for the ensemble run's files.
"""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from arenakit.core.settings import SettingError
from arenakit.data import load_competition
from arenakit.ensemble import EnsembleRun
from arenakit.ensemble.blend import fit_blend
from arenakit.ensemble.budget import MIN_CASCADE_SHARE, Timing, plan_within_budget
from arenakit.ensemble.cascade import (
    CascadeSpec,
    cascade_spec,
    check_cascade,
    entropy,
    fit_cascade,
    threshold_for_share,
)
from arenakit.ensemble.cascade_curve import cascade_curve
from arenakit.ensemble.choice import choose_blend
from arenakit.evaluation.metrics import log_loss
from arenakit.evaluation.plots import plot_cascade_curve
from arenakit.models.baseline import BaselineModel

matplotlib.use("Agg")

SPEC = CascadeSpec(("cheap", "big"), {"big": 0.3})
# Weights only: temperatures cost the choice seconds of fitting here and change nothing these tests look at.
WEIGHTS_ONLY = {"model_temperatures": False, "blend_temperature": False}


def planted(n, seed, harmful=True, hard_share=0.3):
    """Labels, a cheap member and a big one, and which rows are hard.

    The cheap member is sure (and right 85% of the time) on easy rows and near uniform on hard ones. The
    big member is right 80% of the time on hard rows; on easy rows it is confidently wrong when
    `harmful` (good only where the cheap one is unsure: a cascade's case), else better than cheap everywhere.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    hard = rng.random(n) < hard_share

    def sure_of(labels, p):
        proba = np.full((n, 3), (1 - p) / 2)
        proba[np.arange(n), labels] = p
        return proba

    sure = sure_of(np.where(rng.random(n) < 0.85, y, (y + 1) % 3), 0.75)
    cheap = np.where(hard[:, None], rng.dirichlet([40, 40, 40], n), 0.97 * sure + 0.03 * rng.dirichlet([1, 1, 1], n))
    wrong = (y + rng.integers(1, 3, n)) % 3
    good = sure_of(np.where(rng.random(n) < 0.8, y, wrong), 0.7)
    big = np.where(hard[:, None], good, sure_of(wrong, 0.7))
    if not harmful:
        big = sure_of(np.where(rng.random(n) < 0.9, y, wrong), 0.8)
    return y, {"cheap": cheap, "big": big}, hard


def test_a_threshold_fitted_on_oof_routes_the_same_kinds_of_rows_on_a_test_of_another_size():
    y, oofs, _ = planted(600, 0)
    cascade = fit_cascade(y, oofs, SPEC)
    stage = cascade.stages[1]
    assert stage.oof_rows == 180 and cascade.to_dict()["stages"][1]["oof_share"] == pytest.approx(0.3)
    # The threshold is on the entropy of the prediction before the stage: stage 1's blend.
    before = cascade.stages[0].blend.predict({"cheap": oofs["cheap"]})
    assert ((entropy(before) >= stage.threshold).sum()) == 180

    _, test, hard = planted(5000, 1)  # another size, another draw: the hard rows go to the big member
    routed = cascade.rows_for("big", {"cheap": test["cheap"]})
    assert routed.mean() == pytest.approx(hard.mean(), abs=0.005) and (routed == hard).mean() > 0.99
    # The 3 public rows route as they do inside the 5,000: by the threshold, not a share of what arrives.
    assert (cascade.rows_for("big", {"cheap": test["cheap"][:3]}) == routed[:3]).all()
    assert cascade.shares({"cheap": test["cheap"], "big": test["big"]})["big"] == pytest.approx(routed.mean())

    # A share the time budget counted on is a cap too: a test less certain than the OOF rows routes no more.
    capped = fit_cascade(y, oofs, CascadeSpec(("cheap", "big"), {"big": 0.3}, frozenset({"big"})))
    _, uncertain, hard = planted(1000, 3, hard_share=0.6)
    assert cascade.rows_for("big", uncertain).mean() == pytest.approx(0.6, abs=0.05)
    routed = capped.rows_for("big", uncertain)
    assert routed.sum() == 300 and hard[routed].all() and capped.to_dict()["stages"][1]["cap"] == 0.3

    # Shares at the ends, and ties that cannot be split: the closest count the ties allow.
    assert threshold_for_share(np.arange(10.0), 0) == np.inf and threshold_for_share(np.arange(10.0), 1) == -np.inf
    assert threshold_for_share(np.arange(10.0), 0.3) == 6.5
    assert threshold_for_share(np.array([1.0, 1.0, 1.0, 2.0]), 0.5) == 1.5  # 1 row of 4 is closer than 4 of 4


def test_one_blend_per_stage_on_the_rows_it_sees_and_each_row_the_blend_of_the_members_that_saw_it():
    y, oofs, _ = planted(600, 0)
    cascade = fit_cascade(y, oofs, SPEC)
    first, second = cascade.stages
    assert first.blend.n_rows == 600 and first.blend.names == ("cheap",) and first.threshold == -np.inf
    before = first.blend.predict({"cheap": oofs["cheap"]})
    routed = entropy(before) >= second.threshold
    # Stage 2's blend is the one fit_blend gives on its rows alone, with both members.
    alone = fit_blend(y[routed], {name: p[routed] for name, p in oofs.items()})
    assert second.blend.n_rows == 180 and second.blend.names == ("cheap", "big")
    np.testing.assert_allclose(second.blend.weights, alone.weights, atol=1e-6)
    assert second.oof_log_loss < second.oof_log_loss_before  # the big member earns its rows

    # On test, the big member predicts its rows only (NaN elsewhere): the rest keep stage 1's prediction.
    _, test, _ = planted(400, 2)
    rows = cascade.rows_for("big", test)
    partial = np.where(rows[:, None], test["big"], np.nan)
    proba = cascade.predict({"cheap": test["cheap"], "big": partial})
    np.testing.assert_allclose(proba[~rows], first.blend.predict({"cheap": test["cheap"]})[~rows])
    np.testing.assert_allclose(proba[rows], second.blend.predict({n: p[rows] for n, p in test.items()}))
    assert cascade.used == ("cheap", "big")
    missing = partial.copy()
    missing[np.flatnonzero(rows)[0]] = np.nan
    with pytest.raises(ValueError, match=rf"routed {rows.sum()} row\(s\) to big, and 1 of them have no prediction"):
        cascade.predict({"cheap": test["cheap"], "big": missing})


def test_the_cascade_wins_the_honest_choice_only_where_it_scores_best():
    y, oofs, _ = planted(400, 0)  # big is good only on the rows cheap is unsure of
    choice = choose_blend(y, oofs, cascade=SPEC, **WEIGHTS_ONLY)
    table = choice.table
    assert choice.chosen == "cascade" and choice.blend is choice.cascade
    assert table.loc["cascade", "log_loss"] < table.loc["fitted blend", "log_loss"] - 0.05
    assert table.loc["cascade", "log_loss"] < table.loc["single: cheap", "log_loss"]
    assert choice.reason.startswith("chose cascade: log loss") and "cross-fitted" in choice.reason
    assert log_loss(y, choice.oof) == pytest.approx(table.loc["cascade", "log_loss"])

    y, oofs, _ = planted(400, 0, harmful=False)  # big is better everywhere: 30% of the rows is too few
    choice = choose_blend(y, oofs, cascade=SPEC, **WEIGHTS_ONLY)
    assert choice.chosen == "fitted blend" and choice.cascade is not None and choice.blend is choice.fitted
    assert choice.table.loc["cascade", "log_loss"] > choice.table.loc["fitted blend", "log_loss"]

    # A later member trained on some folds (NaN elsewhere out-of-fold) takes part on its own rows.
    some_folds = {"cheap": oofs["cheap"], "big": np.where(np.arange(400)[:, None] < 200, oofs["big"], np.nan)}
    choice = choose_blend(y, some_folds, cascade=SPEC, **WEIGHTS_ONLY)
    assert choice.table.loc["cascade", "candidate"] and choice.cascade.stages[1].blend.model_rows[1] < 120

    # A member the budget allows only in the cascade is in no other candidate.
    choice = choose_blend(
        y, oofs, cascade=CascadeSpec(("cheap", "big"), {"big": 0.3}, frozenset({"big"})), **WEIGHTS_ONLY
    )
    assert "single: big" not in choice.table.index and choice.fitted.names == ("cheap",)
    assert choice.chosen == "cascade"  # the cascade beats cheap alone


def test_stages_follow_cost_per_row_and_shares_are_checked():
    spec = cascade_spec({"baseline": 1e-4, "minilm_lgbm": 1e-2, "deberta_lora": 0.5}, {"minilm_lgbm": 0.5})
    assert spec.order == ("baseline", "minilm_lgbm", "deberta_lora") and spec.share("deberta_lora") == 1.0
    # The cheapest given a share: the cheapest on every row goes first.
    spec = cascade_spec({"baseline": 1e-4, "minilm_lgbm": 1e-2}, {"baseline": 0.2})
    assert spec.order == ("minilm_lgbm", "baseline") and spec.share("baseline") == 0.2
    names = ["baseline", "deberta_lora"]
    with pytest.raises(SettingError, match=r"cascade= names 'deberta', not a model of this run"):
        check_cascade({"deberta": 0.3}, names)
    with pytest.raises(SettingError, match=r"cascade\['deberta_lora'\]=1.5: a share of rows is a number from 0 to 1"):
        check_cascade({"deberta_lora": 1.5}, names)


def linear_costs(fixed, per_row, n_rows):
    """The planner's two views of one timing: the whole test's seconds, and the fixed and per-row costs."""

    def timing(name, overrides):
        factor = 2 if overrides.get("swap_average") else 1
        return Timing(fixed[name], 0.0, 1000, 1000 * per_row[name] * factor)

    return (lambda name, overrides: timing(name, overrides).estimate(n_rows)), timing


def test_before_the_budget_drops_a_model_it_tries_it_on_the_share_of_rows_the_time_left_allows():
    # The planner reads only the protocol; with swap-averaging off already, no cheaper step is left before step 2.
    models = {"baseline": BaselineModel(swap_average=False), "big": BaselineModel(swap_average=False)}
    fixed, per_row = {"baseline": 1.0, "big": 60.0}, {"baseline": 1e-3, "big": 0.4}
    estimate, timing = linear_costs(fixed, per_row, 1000)  # baseline 2 s, big 460 s on 1000 rows
    plan = plan_within_budget(models, estimate, 200, timing=timing, n_rows=1000)
    # 200 - 2 - 60 s leave 138 s: 345 rows of big at 0.4 s, a share of 0.34 (to the percent below).
    assert plan.shares == {"big": 0.34} and plan.cascaded == ["big"] and plan.dropped == []
    assert plan.estimates["big"] == pytest.approx(60 + 0.4 * 340) and plan.total_s <= 200
    assert "big on the 34% of rows the cheaper models are least sure of (a cascade stage)" in plan.steps[0]
    assert plan.table().loc["big", "share"] == 0.34 and len(plan.steps) == 1

    # Too little time for MIN_CASCADE_SHARE of the rows: dropped, and the step says why.
    plan = plan_within_budget(
        models, estimate, 2 + 60 + 0.4 * 1000 * MIN_CASCADE_SHARE * 0.9, timing=timing, n_rows=1000
    )
    assert plan.dropped == ["big"] and plan.shares == {}
    assert "dropped big, the slowest model (the time left allows it 4% of the rows, under 5%)" in plan.steps[0]

    # A cascade asked for is what the budget starts from; within the budget nothing is given up.
    plan = plan_within_budget(models, estimate, 200, timing=timing, n_rows=1000, shares={"big": 0.25})
    assert plan.steps == [] and plan.estimates["big"] == pytest.approx(60 + 0.4 * 250)
    # Without the timings the fallback drops as before.
    assert plan_within_budget(models, estimate, 200).dropped == ["big"]


@pytest.fixture(scope="module")
def cascade_run(tmp_path_factory, synthetic_dir):
    """An ensemble run of two cheap baselines (2 folds, 240 synthetic rows), one cascaded on half the rows."""
    from arenakit.core.schema import TEST_FILE, TRAIN_FILE
    from test_ensemble import read_raw, train_models, write_competition

    root = tmp_path_factory.mktemp("cascade")
    train = read_raw(synthetic_dir / TRAIN_FILE).head(240)
    data_dir = write_competition(root / "data", train, read_raw(synthetic_dir / TEST_FILE).head(40))
    models = {"baseline": BaselineModel(C=0.03), "baseline_all_features": BaselineModel(C=0.03, columns=None)}
    train_models(root / "run", data_dir, n_folds=2, seed=0, models=models)
    run = EnsembleRun(root / "run", load_competition(data_dir), models=list(models), cascade={"baseline": 0.5})
    run.plan_budget(timing_rows=4)
    return run


def test_the_ensemble_records_the_cascade_predicts_later_stages_on_their_rows_and_plots_the_curve(cascade_run):
    run = cascade_run
    run.fit_blend(**WEIGHTS_ONLY)
    cascade = run.choice.cascade
    later = cascade.names[1]
    # baseline is given a share, so the other runs on every row as stage 1 (whatever their measured costs).
    assert cascade.names == ("baseline_all_features", "baseline") and "cascade" in run.choice.table.index
    run.choice.blend = run.blend = cascade  # this test is about the cascade's path, whether it won or not
    run.predict_test()
    routed = cascade.rows_for(later, run.test_proba)
    assert np.isfinite(run.test_proba[later]).all(axis=1).tolist() == routed.tolist() and 0 < routed.sum() < 40
    frame = run.write_submission()
    assert len(frame) == 40 and np.isfinite(frame.iloc[:, 1:].to_numpy()).all()
    folder = run.out_dir / "ensemble"
    for record in (json.loads((folder / "blend.json").read_text()), json.loads((folder / "metrics.json").read_text())):
        stages = record["cascade"]["stages"]
        assert record["cascade"]["measure"] == "entropy" and record["cascade"]["asked"] == {"baseline": 0.5}
        assert [stage["model"] for stage in stages] == list(cascade.names)
        assert stages[0]["every_row"] and stages[0]["oof_share"] == 1 and stages[0]["test_share"] == 1
        assert stages[1]["oof_share"] == pytest.approx(0.5) and stages[1]["threshold"] > 0
        assert stages[1]["test_rows"] == routed.sum() and stages[1]["test_share"] == pytest.approx(routed.mean())
        assert stages[1]["oof_log_loss"] > 0 and stages[1]["blend"]["n_rows"] == 120
    # The curve: each share cross-fitted, the time from the timer's costs, the asked share marked.
    curve = run.cascade_curve(n_rows=25_000, shares=(0.0, 0.5, 1.0))
    assert curve["share"].tolist() == [0.0, 0.5, 1.0] and curve["chosen"].tolist() == [False, True, False]
    seconds = curve["seconds"].to_numpy()
    assert seconds[0] < seconds[1] < seconds[2]
    fixed, per_row = run.stage_costs()[later]
    assert seconds[2] - seconds[1] == pytest.approx(per_row * 0.5 * 25_000)
    path = folder / "plots" / "cascade.png"
    plot_cascade_curve(curve, path)
    assert path.stat().st_size > 10_000
    y, oofs = run.fit_rows
    standalone = cascade_curve(y, oofs, run.cascade_spec(oofs), run.stage_costs(), 25_000, (0.5,), **WEIGHTS_ONLY)
    assert standalone["log_loss"].tolist() == pytest.approx([curve["log_loss"].iloc[1]])


def test_a_swapped_pass_runs_on_the_rows_routed_to_it_and_its_member_one_order_everywhere(cascade_run):
    import pandas as pd

    from arenakit.core.artifacts import ORDER_FILES
    from arenakit.core.swap import swap_proba
    from arenakit.data.competition import swap_ab
    from arenakit.models.base import FoldEnsemble

    folder = cascade_run.out_dir / "baseline"
    one, swapped, oof = (pd.read_csv(folder / name).set_index("id") for name in (*ORDER_FILES, "oof.csv"))
    np.testing.assert_allclose((one + swapped) / 2, oof, atol=1e-7)  # cross-validation kept both orders
    competition, names = cascade_run.competition, ["baseline", "baseline_all_features"]
    with pytest.raises(
        SettingError, match=r"inference\['baseline'\] asks for swap_average=True, both orders on every row"
    ):
        EnsembleRun(
            cascade_run.out_dir,
            competition,
            names,
            cascade={"baseline:swapped": 0.5},
            inference={"baseline": {"swap_average": True}},
        )
    run = EnsembleRun(cascade_run.out_dir, competition, names, cascade={"baseline:swapped": 0.5})
    run.plan_budget(timing_rows=4)
    run.fit_blend(**WEIGHTS_ONLY)
    cascade = run.choice.cascade
    assert cascade.names.index("baseline:swapped") > cascade.names.index("baseline")
    assert not any("swapped" in label for label in run.choice.table.index if label != "cascade")
    # Fitted on what inference gives: the member's one order, the swapped pass as its own stage.
    ids = competition.train["id"]
    np.testing.assert_allclose(run.fit_rows[1]["baseline"], one.reindex(ids).to_numpy())
    np.testing.assert_allclose(run.fit_rows[1]["baseline:swapped"], swapped.reindex(ids).to_numpy())
    run.choice.blend = run.blend = cascade
    table = run.predict_test()
    test = competition.test
    folds = FoldEnsemble.load(folder / "folds", swap_average=False)
    np.testing.assert_allclose(run.test_proba["baseline"], folds.predict_proba(test))  # one order on every row
    routed = cascade.rows_for("baseline:swapped", run.test_proba)
    got = run.test_proba["baseline:swapped"]
    assert np.isfinite(got).all(axis=1).tolist() == routed.tolist() and 0 < routed.sum() < len(test)
    np.testing.assert_allclose(got[routed], swap_proba(folds.predict_proba(swap_ab(test)))[routed])
    assert table.loc["baseline:swapped", "test_rows"] == routed.sum()
    run.write_submission()
    stages = json.loads((run.out_dir / "ensemble" / "blend.json").read_text())["cascade"]["stages"]
    swapped_stage = next(stage for stage in stages if stage["model"] == "baseline:swapped")
    assert swapped_stage["test_rows"] == routed.sum() and swapped_stage["oof_share"] == pytest.approx(0.5, abs=0.02)
