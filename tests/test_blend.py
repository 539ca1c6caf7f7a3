"""Blend fitting and choice, the time-budget fallback order and finding model folders: fast, no model is fitted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arenakit.ensemble.blend import apply_temperature, equal_blend, fit_blend, fit_weights
from arenakit.ensemble.budget import SAFETY_MARGIN_S, plan_within_budget, resolve_time_budget
from arenakit.ensemble.choice import choose_blend
from arenakit.ensemble.model_folders import candidate_folders, find_model_folder
from arenakit.evaluation.metrics import log_loss
from arenakit.models.baseline import BaselineModel
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from arenakit.models.lora.siamese_classifier import SiameseClassifier
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel


def mixture_rows(weights, n=20_000, seed=0):
    """Three unrelated 'models' and labels drawn from a known mixture of their predictions."""
    rng = np.random.default_rng(seed)
    probas = [rng.dirichlet([1.0, 1.0, 1.0], n) for _ in weights]
    truth = sum(w * p for w, p in zip(weights, probas))
    y = (rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    return y, dict(zip(("a", "b", "c"), probas))


def test_weight_fit_recovers_a_known_mixture():
    y, probas = mixture_rows([0.6, 0.3, 0.1])
    blend = fit_blend(y, probas, model_temperatures=False, blend_temperature=False)
    np.testing.assert_allclose(blend.weights, [0.6, 0.3, 0.1], atol=0.03)
    assert blend.weights.min() >= 0 and blend.weights.sum() == pytest.approx(1.0)
    assert blend.temperature == 1.0 and (blend.temperatures == 1.0).all() and blend.n_rows == len(y)
    assert blend.to_dict()["models"]["a"]["weight"] == pytest.approx(blend.weights[0])


def test_a_useless_model_gets_no_weight_and_the_blend_beats_every_single():
    y, probas = mixture_rows([0.7, 0.3, 0.0], n=4_000, seed=1)
    choice = choose_blend(y, probas, model_temperatures=True, blend_temperature=True)
    assert choice.fitted.weights[2] < 0.02
    table = choice.table
    singles = table.loc[[f"single: {name}" for name in probas], "log_loss"]
    assert table.loc["fitted blend", "in_sample"] < singles.min() - 0.05
    assert table.loc["fitted blend", "in_sample"] <= table.loc["equal weights", "log_loss"]
    # Fitted on other rows, the blend scores within a hair of its in-sample figure, and is chosen.
    assert abs(table.loc["fitted blend", "log_loss"] - table.loc["fitted blend", "in_sample"]) < 0.01
    assert choice.chosen == "fitted blend" and choice.blend is choice.fitted and table["chosen"].sum() == 1
    assert choice.reason.startswith("chose fitted blend: log loss") and "cross-fitted" in choice.reason
    assert table["vs_best_single"].min() < 0 and table.loc["single: a", "vs_best_single"] == 0.0
    assert table["rows"].tolist() == [4_000] * 5


def test_temperature_undoes_an_over_confident_model():
    rng = np.random.default_rng(2)
    truth = rng.dirichlet([2.0, 2.0, 2.0], 20_000)
    y = (rng.random(len(truth))[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    sharpened = apply_temperature(truth, 0.6)  # the same information, over-confident
    blend = fit_blend(y, {"sharp": sharpened}, model_temperatures=False, blend_temperature=True)
    assert blend.weights.tolist() == [1.0] and blend.temperature == pytest.approx(1 / 0.6, rel=0.1)
    assert log_loss(y, blend.predict({"sharp": sharpened})) < log_loss(y, sharpened) - 0.02
    np.testing.assert_allclose(apply_temperature(truth, 1.0), truth)


def test_the_blend_is_never_worse_than_its_best_single_model():
    # One strong model and one that only adds noise: the fit must not pay for the noise.
    rng = np.random.default_rng(3)
    truth = rng.dirichlet([1.0, 1.0, 1.0], 2_000)
    y = (rng.random(len(truth))[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    probas = {"good": truth, "noise": rng.dirichlet([1.0, 1.0, 1.0], len(truth))}
    for options in ({}, {"model_temperatures": False, "blend_temperature": False}):
        blend = fit_blend(y, probas, **options)
        assert log_loss(y, blend.predict(probas)) <= log_loss(y, truth) + 1e-12
    weights = fit_weights(y, list(probas.values()))
    assert weights[0] > 0.95


def known_truth_rows(n, seed, truth_of):
    """Three random 'models' and labels drawn from truth_of(a, b, c): the best possible predictor is known."""
    rng = np.random.default_rng(seed)
    probas = {name: rng.dirichlet([1.0, 1.0, 1.0], n) for name in ("a", "b", "c")}
    truth = truth_of(**probas)
    return (rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1), probas


def test_the_best_single_model_is_chosen_when_the_fitted_blend_does_not_hold_up():
    # Model a is the truth: whatever else the blend fits on 300 rows is noise, which the
    # in-sample score rewards and the cross-fitted score exposes.
    y, probas = known_truth_rows(300, 0, lambda a, b, c: a)
    choice = choose_blend(y, probas)
    table = choice.table
    assert table.loc["fitted blend", "in_sample"] <= table.loc["single: a", "log_loss"]
    assert table.loc["fitted blend", "log_loss"] > table.loc["single: a", "log_loss"]
    assert choice.chosen == "single: a" and choice.blend.names == ("a",) and choice.blend.weights.tolist() == [1.0]
    assert table.loc["single: a", "chosen"] and table["chosen"].sum() == 1
    assert "on rows it had not seen (cross-fitted), so its weights are not used" in choice.reason
    np.testing.assert_allclose(choice.oof, probas["a"])
    np.testing.assert_allclose(choice.blend.predict(probas), probas["a"])


def test_equal_weights_are_chosen_when_they_are_the_truth():
    y, probas = known_truth_rows(300, 1, lambda a, b, c: (a + b) / 2)
    probas.pop("c")
    choice = choose_blend(y, probas)
    assert choice.chosen == "equal weights" and choice.blend.weights.tolist() == [0.5, 0.5]
    assert choice.table.loc["equal weights", "log_loss"] < choice.table.loc["fitted blend", "log_loss"]
    assert choice.reason.startswith("chose equal weights: log loss")


def test_too_few_rows_to_cross_fit_leave_the_fitted_blend_unjudged():
    y, probas = known_truth_rows(40, 2, lambda a, b, c: (a + b) / 2)
    choice = choose_blend(y, probas)
    assert not choice.table.loc["fitted blend", "candidate"] and np.isnan(choice.table.loc["fitted blend", "log_loss"])
    assert choice.chosen != "fitted blend" and "the fitted blend was not judged: 40 rows are too few" in choice.reason


def test_a_partial_model_comes_in_on_its_own_rows_and_the_others_keep_every_row():
    y, probas = mixture_rows([0.5, 0.3, 0.2], n=4_000, seed=4)
    partial = probas["c"].copy()
    partial[800:] = np.nan  # trained on one fold of five: predicted the first 800 rows only
    blend = fit_blend(y, {**probas, "c": partial}, model_temperatures=False, blend_temperature=False)
    assert blend.model_rows == (4_000, 4_000, 800) and blend.table()["rows"].tolist() == [4_000, 4_000, 800]
    assert blend.to_dict()["models"]["c"]["rows"] == 800 and blend.weights[2] > 0.1
    # Where c predicted nothing, the pool is a and b with their weights renormalised.
    pooled = blend.predict({**probas, "c": partial})[800:]
    w_a, w_b = blend.weights[:2] / blend.weights[:2].sum()
    np.testing.assert_allclose(pooled, w_a * probas["a"][800:] + w_b * probas["b"][800:])
    # On test rows every model predicted: the plain weighted sum.
    full = blend.predict(probas)
    np.testing.assert_allclose(full, sum(w * probas[n] for n, w in zip("abc", blend.weights)))
    # a's weight is fitted on all 4,000 rows, not on the 800 that c shares: spoil a on the other
    # 3,200 and its weight falls well below that of a fit on the shared rows alone.
    spoiled = {**probas, "a": probas["a"].copy(), "c": partial}
    spoiled["a"][800:] = np.random.default_rng(5).dirichlet([1.0, 1.0, 1.0], 3_200)
    options = {"model_temperatures": False, "blend_temperature": False}
    refit = fit_blend(y, spoiled, **options)
    shared_rows_only = fit_blend(y[:800], {name: p[:800] for name, p in spoiled.items()}, **options)
    assert refit.weights[0] < shared_rows_only.weights[0] - 0.15
    # The choice scores it on the same rows as the rest; c alone is shown on its rows, not a candidate.
    choice = choose_blend(y, {**probas, "c": partial}, model_temperatures=False, blend_temperature=False)
    assert choice.table.loc["single: c, on its 800 rows", "rows"] == 800
    assert not choice.table.loc["single: c, on its 800 rows", "candidate"]
    assert choice.table.loc["fitted blend", "rows"] == 4_000


def test_blend_errors_name_the_model():
    y = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="minilm_lgbm: out-of-fold predictions unusable.*3 rows but proba has 2"):
        fit_blend(y, {"minilm_lgbm": np.full((2, 3), 1 / 3)})
    with pytest.raises(ValueError, match="nothing to blend"):
        fit_blend(y, {})
    with pytest.raises(KeyError, match="needs predictions of b"):
        equal_blend(["a", "b"]).predict({"a": np.full((3, 3), 1 / 3)})
    partial = np.full((3, 3), 1 / 3)
    partial[0] = np.nan
    with pytest.raises(ValueError, match=r"no model predicted every one of the 3 rows \(rows per model: a 2\)"):
        fit_blend(y, {"a": partial})
    with pytest.raises(ValueError, match="b: out-of-fold predictions unusable.*predicted none of these rows"):
        fit_blend(y, {"a": np.full((3, 3), 1 / 3), "b": np.full((3, 3), np.nan)})
    with pytest.raises(ValueError, match=r"1 row\(s\) have no prediction from a model with a weight \(a\)"):
        equal_blend(["a"]).predict({"a": partial})


def cost(base_seconds):
    """A deterministic timing source for the planner: seconds grow with swap-averaging and each model's token cap."""

    def estimate(name, overrides):
        seconds = base_seconds[name] * (2 if overrides.get("swap_average") else 1)
        if name == "deberta":
            seconds *= overrides.get("max_length", 1024) / 1024
        if name == "minilm":
            seconds *= overrides.get("max_seq_length", 256) / 256
        return seconds

    return estimate


# The kit's three model kinds, unfitted: the planner reads only their parameters, through the protocol.
MODELS = {
    "baseline": BaselineModel(),
    "minilm": MiniLMLightGBMModel(max_seq_length=256),  # at the 256-token floor: no shorter setting
    "deberta": CrossEncoderClassifier.from_settings({"max_length": 1024}),
}
START = {name: {"swap_average": True} for name in MODELS}
SECONDS = {"baseline": 1, "minilm": 10, "deberta": 100}


def what_was_given_up(plan):
    return [step.split(": ", 1)[1].split(";")[0] for step in plan.steps]


def test_budget_fallback_goes_swap_then_token_cap_then_drops_the_slowest():
    estimate = cost(SECONDS)  # with swap: 2 + 20 + 200 = 222 s
    plan = plan_within_budget(MODELS, estimate, budget_s=1e9, start=START)
    assert plan.steps == [] and plan.total_s == 222 and plan.kept == list(MODELS)

    # Swap-averaging off for the slowest model alone is enough: 2 + 20 + 100.
    plan = plan_within_budget(MODELS, estimate, budget_s=130, start=START)
    assert plan.overrides["deberta"] == {"swap_average": False} and plan.overrides["minilm"] == {"swap_average": True}
    assert what_was_given_up(plan) == ["swap-averaging off for deberta"]

    # Swap off everywhere (111 s), then deberta's token cap halved 1024 -> 512 (61 s), then to the floor 256 (36 s).
    plan = plan_within_budget(MODELS, estimate, budget_s=40, start=START, min_tokens=256)
    assert what_was_given_up(plan) == [
        "swap-averaging off for deberta",
        "swap-averaging off for minilm",
        "swap-averaging off for baseline",
        "token cap 1024 -> 512 for deberta",
        "token cap 512 -> 256 for deberta",
    ]
    assert plan.overrides["deberta"] == {"swap_average": False, "max_length": 256}
    assert plan.total_s == 36 and plan.dropped == []
    assert "estimate 61.0 s -> 36.0 s" in plan.steps[-1]

    # Still over at the floor: drop the slowest (deberta, then minilm); the last model runs anyway.
    plan = plan_within_budget(MODELS, estimate, budget_s=0.5, start=START, min_tokens=256)
    assert plan.dropped == ["deberta", "minilm"] and plan.kept == ["baseline"]
    assert "dropped deberta, the slowest model" in plan.steps[-3] and "dropped minilm" in plan.steps[-2]
    assert "still exceeds the budget" in plan.steps[-1] and plan.total_s == 1
    assert plan.table().loc["deberta", "runs"] == False  # noqa: E712 (a numpy bool)


def test_budget_fallback_halves_minilm_token_cap_too():
    """MiniLM's cap is max_seq_length: the planner reaches it through the protocol, as it does LoRA's max_length."""
    models = {**MODELS, "minilm": MiniLMLightGBMModel(max_seq_length=1024)}
    seconds = {"baseline": 1, "minilm": 100, "deberta": 10}  # minilm is the slowest here

    def estimate(name, overrides):  # minilm at its trained 1024 tokens costs 100 s a pass
        if name == "minilm":
            return 100 * (2 if overrides.get("swap_average") else 1) * overrides.get("max_seq_length", 1024) / 1024
        return cost(seconds)(name, overrides)

    plan = plan_within_budget(models, estimate, budget_s=100, start=START, min_tokens=256)
    # Swap off everywhere (2 + 200 + 20 -> 1 + 100 + 10), then minilm's cap 1024 -> 512 (1 + 50 + 10 = 61 s).
    assert what_was_given_up(plan) == [
        "swap-averaging off for minilm",
        "swap-averaging off for deberta",
        "swap-averaging off for baseline",
        "token cap 1024 -> 512 for minilm",
    ]
    assert plan.overrides["minilm"] == {"swap_average": False, "max_seq_length": 512} and plan.total_s == 61


def test_budget_fallback_leaves_a_siamese_model_its_swap_setting():
    """A Siamese model is symmetric in one pass: it offers no swap step, only its token cap."""
    models = {**MODELS, "deberta": SiameseClassifier.from_settings({"max_length": 1024})}

    def estimate(name, overrides):  # the Siamese deberta costs the same either way
        return 100 * overrides.get("max_length", 1024) / 1024 if name == "deberta" else cost(SECONDS)(name, overrides)

    plan = plan_within_budget(models, estimate, budget_s=100, start=START)
    assert plan.overrides["deberta"] == {"swap_average": True, "max_length": 512}
    assert "swap-averaging off for deberta" not in what_was_given_up(plan)
    assert plan.overrides["minilm"]["swap_average"] is False and plan.total_s <= 100


def test_time_budget_default_depends_on_where_it_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENAKIT_KAGGLE_INPUT", str(tmp_path / "absent"))
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    assert resolve_time_budget(None) == math.inf and resolve_time_budget(600) == 600.0
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    assert resolve_time_budget(None) == 9 * 3600 - SAFETY_MARGIN_S
    with pytest.raises(ValueError, match="time_budget_s must be a positive number"):
        resolve_time_budget(0)


def make_model_folder(folder):
    (folder / "folds" / "fold_0").mkdir(parents=True)
    (folder / "metrics.json").write_text("{}")
    (folder / "oof.csv").write_text("id\n")
    return folder


def test_model_folders_are_found_locally_first_then_under_the_input_root(monkeypatch, tmp_path):
    root = tmp_path / "input"
    monkeypatch.setenv("ARENAKIT_KAGGLE_INPUT", str(root))
    out_dir = tmp_path / "run"
    nested = make_model_folder(root / "notebooks" / "someone" / "arena-minilm" / "minilm_lgbm")
    shallow = make_model_folder(root / "arena-minilm-v2" / "minilm_lgbm")
    make_model_folder(root / "arena-other" / "not_minilm_lgbm")
    (root / "arena-broken" / "minilm_lgbm").mkdir(parents=True)  # no marker files: not a model folder
    assert candidate_folders("minilm_lgbm", out_dir) == [shallow.resolve(), nested.resolve()]
    local = make_model_folder(out_dir / "minilm_lgbm")
    assert find_model_folder("minilm_lgbm", out_dir) == local.resolve()
    assert find_model_folder("deberta_lora", out_dir) is None
