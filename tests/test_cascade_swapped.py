"""Swap TTA on the least certain rows only (issue 23): a member's A/B-swapped pass as a cascade stage,
and the budget putting it on the share of rows the time allows. Predictions are built in the test;
the ensemble run's path is in test_cascade.py, on its trained baselines."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from arenakit.ensemble.budget import plan_within_budget
from arenakit.ensemble.cascade import cascade_spec, check_cascade, cross_fitted_cascade, fit_cascade
from arenakit.ensemble.swapped import swap_stage_problem
from arenakit.evaluation.metrics import log_loss
from arenakit.models.baseline import BaselineModel
from arenakit.models.lora.siamese_classifier import SiameseClassifier
from test_cascade import WEIGHTS_ONLY, linear_costs

SWAPPED = "judge:swapped"


def position_biased(n, seed, hard_share=0.3):
    """Labels and a judge's two orders: sure and unbiased on easy rows; on hard rows unsure, and pushed towards
    whichever response comes first by a random amount (the swapped pass, mapped back, is pushed the other way).

    The push (0.8 logits, one standard deviation) leaves a hard row unsure, as a position bias flips close
    calls: its entropy finds it. A push of 1.5 makes a third of them confidently wrong, hidden from the
    routing: 32% of the gain at a 30% share instead of 82%."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    hard = rng.random(n) < hard_share
    right = np.where(rng.random(n) < np.where(hard, 0.6, 0.9), y, (y + rng.integers(1, 3, n)) % 3)
    sure = np.where(hard, 0.5, rng.uniform(0.8, 0.95, n))
    truth = np.repeat(((1 - sure) / 2)[:, None], 3, axis=1)
    truth[np.arange(n), right] = sure
    bias = rng.normal(0, 0.8, n) * hard
    shift = np.column_stack([bias, -bias, np.zeros(n)])

    def softmax(logits):
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    one_order, swapped = softmax(np.log(truth) + shift), softmax(np.log(truth) - shift)
    return y, {"judge": one_order, SWAPPED: swapped}, hard


def test_the_swapped_pass_on_the_least_certain_rows_keeps_most_of_what_swap_averaging_gains():
    y, probas, hard = position_biased(3000, seed=0)
    spec = cascade_spec({"judge": 0.4, SWAPPED: 0.4}, {SWAPPED: 0.3}, required=[SWAPPED])
    assert spec.order == ("judge", SWAPPED)  # same cost per row: the swapped pass follows its one order
    cascade = fit_cascade(y, probas, spec, **WEIGHTS_ONLY)
    swapped_stage = cascade.stages[1]
    assert swapped_stage.oof_rows == 900 and set(swapped_stage.blend.names) == {"judge", SWAPPED}
    routed = swapped_stage.route(np.zeros(1) + swapped_stage.threshold)  # at the threshold: routed
    assert routed.all() and swapped_stage.cap == 0.3
    # The rows it sees are the hard ones, and there it weighs the two orders about equally.
    seen = cascade.shares(probas)
    assert seen == {"judge": 1.0, SWAPPED: pytest.approx(0.3, abs=0.01)}
    weights = dict(zip(swapped_stage.blend.names, swapped_stage.blend.weights))
    assert weights["judge"] == pytest.approx(weights[SWAPPED], rel=0.2)
    one_order = log_loss(y, probas["judge"])
    averaged = log_loss(y, (probas["judge"] + probas[SWAPPED]) / 2)  # the swapped pass is stored mapped back
    cascaded = log_loss(y, cross_fitted_cascade(y, probas, spec, n_splits=5, seed=0, **WEIGHTS_ONLY))
    # The swapped pass on 30% of the rows keeps most of what it gains on all of them (82%, cross-fitted).
    assert averaged < one_order and (one_order - cascaded) >= 0.75 * (one_order - averaged)


def test_a_swapped_stage_needs_its_member_before_it_and_a_model_that_saved_both_orders(tmp_path):
    assert check_cascade({SWAPPED: 0.3}, ["judge"]) == {SWAPPED: 0.3}
    with pytest.raises(ValueError, match="judge:swapped is a swapped pass; its member must be a stage before it"):
        cascade_spec({"baseline": 1e-4, SWAPPED: 0.4}, {SWAPPED: 0.3})
    one_order_only = SimpleNamespace(name="judge", folder=tmp_path, prototype=BaselineModel(), oof_orders=None)
    assert "holds no out-of-fold predictions in each A/B order" in swap_stage_problem(one_order_only)
    assert "re-run its notebook with swap_average=True" in swap_stage_problem(one_order_only)
    siamese = SimpleNamespace(name="siamese", folder=tmp_path, prototype=SiameseClassifier(), oof_orders=None)
    assert "symmetric under an A/B swap" in swap_stage_problem(siamese)


def test_the_budget_keeps_swap_averaging_on_the_share_of_rows_the_time_allows():
    models = {"baseline": BaselineModel(swap_average=False), "judge": BaselineModel(swap_average=True)}
    fixed, per_row = {"baseline": 1.0, "judge": 60.0}, {"baseline": 1e-3, "judge": 0.4}
    estimate, timing = linear_costs(fixed, per_row, 1000)  # judge: 860 s swap-averaged, 460 s one order
    start = {"baseline": {}, "judge": {"swap_average": True}}
    plan = plan_within_budget(models, estimate, 600, start, timing=timing, n_rows=1000, swappable={"judge"})
    # One order leaves 600 - 2 - 460 = 138 s: the swapped pass on 345 rows at 0.4 s, 34% (to the percent below).
    assert plan.overrides["judge"] == {"swap_average": False} and plan.shares == {SWAPPED: 0.34}
    assert plan.estimates["judge"] == pytest.approx(60 + 0.4 * 1340) and plan.total_s <= 600
    assert "swap-averaging on the 34% of rows the models are least sure of only" in plan.steps[0]
    assert plan.table().loc["judge", "swapped_share"] == 0.34 and len(plan.steps) == 1
    # A model that did not save both orders: swap-averaging off on every row, as before.
    plain = plan_within_budget(models, estimate, 600, start, timing=timing, n_rows=1000)
    assert plain.shares == {} and "swap-averaging off for judge" in plain.steps[0]
    # Over budget with a swapped stage asked for: that stage goes before the model's own rows do.
    one_order = {"baseline": {}, "judge": {"swap_average": False}}
    plan = plan_within_budget(models, estimate, 500, one_order, timing=timing, n_rows=1000, shares={SWAPPED: 0.5})
    assert plan.shares == {} and plan.steps[0].startswith(
        "over the time budget (8.3 min left): swap-averaging off on every"
    )
    assert plan.total_s == pytest.approx(462) and len(plan.steps) == 1
