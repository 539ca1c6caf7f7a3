"""Blend fitting, the time-budget fallback order and finding model folders: fast, no model runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arenakit.ensemble.blend import apply_temperature, compare_blends, equal_blend, fit_blend, fit_weights
from arenakit.ensemble.budget import SAFETY_MARGIN_S, plan_within_budget, resolve_time_budget
from arenakit.ensemble.model_folders import candidate_folders, find_model_folder
from arenakit.metrics import log_loss


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
    y, probas = mixture_rows([0.7, 0.3, 0.0], n=5_000, seed=1)
    blend = fit_blend(y, probas)
    assert blend.weights[2] < 0.02
    table = compare_blends(y, probas, blend, model_temperatures=True, blend_temperature=True)
    singles = table.loc[[f"single: {name}" for name in probas], "log_loss"]
    assert table.loc["fitted blend", "log_loss"] < singles.min() - 0.05
    assert table.loc["fitted blend", "log_loss"] <= table.loc["equal weights", "log_loss"]
    # Fitted on other rows, the blend scores within a hair of its in-sample figure.
    assert (
        abs(table.loc["fitted blend, cross-fitted (5 parts)", "log_loss"] - table.loc["fitted blend", "log_loss"])
        < 0.01
    )
    assert table["vs_best_single"].min() < 0 and table.loc["single: a", "vs_best_single"] == 0.0


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


def test_blend_errors_name_the_model():
    y = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="minilm_lgbm: out-of-fold predictions unusable.*3 rows but proba has 2"):
        fit_blend(y, {"minilm_lgbm": np.full((2, 3), 1 / 3)})
    with pytest.raises(ValueError, match="nothing to blend"):
        fit_blend(y, {})
    with pytest.raises(KeyError, match="needs predictions of b"):
        equal_blend(["a", "b"]).predict({"a": np.full((3, 3), 1 / 3)})


def cost(base_seconds):
    """A deterministic timing source for the planner: seconds grow with swap-averaging and max_length."""

    def estimate(name, overrides):
        seconds = base_seconds[name]
        seconds *= 2 if overrides.get("swap_average") else 1
        return seconds * overrides.get("max_length", 1024) / 1024 if name == "deberta" else seconds

    return estimate


PARAMS = {
    "baseline": {"swap_average": True, "C": None},
    "minilm": {"swap_average": True, "cache_dir": None},
    "deberta": {"swap_average": True, "max_length": 1024, "backbone": "x"},
}
START = {name: {"swap_average": True} for name in PARAMS}


def test_budget_fallback_goes_swap_then_max_length_then_drops_the_slowest():
    estimate = cost({"baseline": 1, "minilm": 10, "deberta": 100})  # with swap: 2 + 20 + 200 = 222 s
    plan = plan_within_budget(PARAMS, estimate, budget_s=1e9, start=START)
    assert plan.steps == [] and plan.total_s == 222 and plan.kept == list(PARAMS)

    # Swap-averaging off for the slowest model alone is enough: 2 + 20 + 100.
    plan = plan_within_budget(PARAMS, estimate, budget_s=130, start=START)
    assert plan.overrides["deberta"] == {"swap_average": False} and plan.overrides["minilm"] == {"swap_average": True}
    assert len(plan.steps) == 1 and "swap-averaging turned off for deberta" in plan.steps[0]

    # Swap off everywhere (111 s), then max_length halved 1024 -> 512 (61 s), then to the floor 256 (36 s).
    plan = plan_within_budget(PARAMS, estimate, budget_s=40, start=START, min_max_length=256)
    assert [step.split(": ", 1)[1].split(";")[0] for step in plan.steps] == [
        "swap-averaging turned off for deberta",
        "swap-averaging turned off for minilm",
        "swap-averaging turned off for baseline",
        "max_length 1024 -> 512 for deberta",
        "max_length 512 -> 256 for deberta",
    ]
    assert plan.total_s == 36 and plan.dropped == []
    assert "estimate 61.0 s -> 36.0 s" in plan.steps[-1]

    # Still over at the floor: drop the slowest (deberta, then minilm); the last model runs anyway.
    plan = plan_within_budget(PARAMS, estimate, budget_s=0.5, start=START, min_max_length=256)
    assert plan.dropped == ["deberta", "minilm"] and plan.kept == ["baseline"]
    assert "dropped deberta, the slowest model" in plan.steps[-3] and "dropped minilm" in plan.steps[-2]
    assert "still exceeds the budget" in plan.steps[-1] and plan.total_s == 1
    assert plan.table().loc["deberta", "runs"] == False  # noqa: E712 (a numpy bool)


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
