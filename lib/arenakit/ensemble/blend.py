"""Blending model predictions: weights and temperatures fitted on out-of-fold predictions.

    blend = fit_blend(y, {"baseline": oof_a, "minilm_lgbm": oof_b})   # fitted on OOF rows only
    proba = blend.predict({"baseline": test_a, "minilm_lgbm": test_b})
    compare_blends(y, oofs, blend)                                     # singles, equal weights, blend

The blend is a linear pool: each model's probabilities, optionally sharpened or softened by its
own temperature, are averaged with non-negative weights summing to 1, and the average gets an
optional temperature of its own. Temperature T maps p to softmax(log p / T): T > 1 softens an
over-confident model, T < 1 sharpens a timid one.

Fitted in two steps, neither of which can raise the OOF log loss: the weights alone (the log loss
of a linear pool is convex in the weights, so SLSQP finds the global optimum; the best single
model is checked as a fallback anyway), then, from there, weights and the chosen temperatures
together (kept only when they lower the loss). The OOF figure of a fitted blend is therefore
never worse than the best single model's; `cross_fitted_log_loss` gives the honest figure, with
the blend fitted on other rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from arenakit.metrics import check_predictions, log_loss
from arenakit.schema import N_CLASSES

# Temperatures are searched in [1/2, 2]. On the 999 real sample rows wider bounds ran to the
# edges (a model at T = 4 with the blend at T = 0.3, the two cancelling out) and scored no
# better on rows the blend was not fitted on.
LOG_TEMPERATURE_BOUND = np.log(2.0)
_FLOOR = 1e-12  # keeps log p finite for a model that predicted an exact zero


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T), row by row; T = 1 returns the probabilities unchanged."""
    proba = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _FLOOR, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_weights(y: np.ndarray, probas: list[np.ndarray]) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the log loss of sum_m w_m p_m."""
    # The pooled probability of the true class is P_true @ w: only that column matters.
    true_class = np.column_stack([np.asarray(p, dtype=np.float64)[np.arange(len(y)), y] for p in probas])
    n_models = true_class.shape[1]

    def loss_and_gradient(weights):
        pooled = np.clip(true_class @ weights, _FLOOR, None)
        return -np.log(pooled).mean(), -(true_class / pooled[:, None]).mean(axis=0)

    result = minimize(
        loss_and_gradient,
        np.full(n_models, 1.0 / n_models),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_models,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    weights = np.clip(result.x, 0.0, None)
    weights /= weights.sum()
    # Guard against an optimiser that stopped early: never end worse than the best single model.
    best_single = np.eye(n_models)[int(np.argmax(np.log(np.clip(true_class, _FLOOR, None)).mean(axis=0)))]
    return weights if loss_and_gradient(weights)[0] <= loss_and_gradient(best_single)[0] else best_single


@dataclass
class Blend:
    """Weights and temperatures per model (by name), and the temperature of the blend."""

    names: tuple[str, ...]
    weights: np.ndarray
    temperatures: np.ndarray
    temperature: float = 1.0
    n_rows: int = 0  # OOF rows it was fitted on (0: not fitted)

    def predict(self, probas: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [name for name in self.names if name not in probas]
        if missing:
            raise KeyError(f"the blend needs predictions of {', '.join(missing)}; got {', '.join(probas)}")
        pooled = sum(
            weight * apply_temperature(probas[name], t)
            for name, weight, t in zip(self.names, self.weights, self.temperatures)
        )
        return apply_temperature(pooled, self.temperature)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"weight": self.weights, "temperature": self.temperatures}, index=list(self.names))

    def to_dict(self) -> dict:
        return {
            "models": {
                name: {"weight": float(w), "temperature": float(t)}
                for name, w, t in zip(self.names, self.weights, self.temperatures)
            },
            "blend_temperature": float(self.temperature),
            "n_rows": int(self.n_rows),
        }


def equal_blend(names) -> Blend:
    names = tuple(names)
    return Blend(names, np.full(len(names), 1.0 / len(names)), np.ones(len(names)))


def _checked(y, probas: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not probas:
        raise ValueError("nothing to blend: no model predictions given")
    checked = {}
    for name, proba in probas.items():
        try:
            y_checked, checked[name] = check_predictions(y, proba)
        except ValueError as error:
            raise ValueError(f"{name}: out-of-fold predictions unusable for the blend: {error}") from error
    return y_checked, checked


def _tune_temperatures(
    y: np.ndarray, probas: list[np.ndarray], start: Blend, model_temperatures: bool, blend_temperature: bool
) -> Blend:
    """Weights and the chosen temperatures together, from `start`; kept only where they lower the loss.

    Temperatures and weights interact (softening one model changes how much weight it deserves),
    so they are fitted jointly, with L-BFGS on weight logits and log temperatures.
    """
    n_models = len(probas)
    n_free = n_models * model_temperatures + blend_temperature

    def unpack(theta):
        logits = theta[:n_models] - theta[:n_models].max()
        weights = np.exp(logits) / np.exp(logits).sum()
        log_t = theta[n_models:]
        temperatures = np.exp(log_t[:n_models]) if model_temperatures else np.ones(n_models)
        return Blend(start.names, weights, temperatures, float(np.exp(log_t[-1])) if blend_temperature else 1.0, len(y))

    def loss(theta):
        return log_loss(y, unpack(theta).predict(dict(zip(start.names, probas))))

    theta0 = np.concatenate([np.log(np.clip(start.weights, 1e-6, None)), np.zeros(n_free)])
    bounds = [(-30.0, 30.0)] * n_models + [(-LOG_TEMPERATURE_BOUND, LOG_TEMPERATURE_BOUND)] * n_free
    result = minimize(loss, theta0, method="L-BFGS-B", bounds=bounds)
    tuned = unpack(result.x)
    return tuned if loss(result.x) < log_loss(y, start.predict(dict(zip(start.names, probas)))) else start


def fit_blend(
    y, probas: Mapping[str, np.ndarray], model_temperatures: bool = True, blend_temperature: bool = True
) -> Blend:
    """Fit weights (and the chosen temperatures) on out-of-fold predictions of the same rows."""
    y, probas = _checked(y, probas)
    names = tuple(probas)
    blend = Blend(names, fit_weights(y, list(probas.values())), np.ones(len(names)), n_rows=len(y))
    if model_temperatures or blend_temperature:
        blend = _tune_temperatures(y, list(probas.values()), blend, model_temperatures, blend_temperature)
    return blend


def cross_fitted_log_loss(y, probas: Mapping[str, np.ndarray], n_splits: int = 5, seed: int = 0, **options) -> float:
    """Log loss of the blend on each part of the rows when fitted on the other parts (the honest figure)."""
    y, probas = _checked(y, probas)
    part = np.random.default_rng(seed).permutation(len(y)) % n_splits
    pooled = np.empty((len(y), N_CLASSES))
    for k in range(n_splits):
        held_out = part == k
        blend = fit_blend(y[~held_out], {name: p[~held_out] for name, p in probas.items()}, **options)
        pooled[held_out] = blend.predict({name: p[held_out] for name, p in probas.items()})
    return log_loss(y, pooled)


def compare_blends(y, probas: Mapping[str, np.ndarray], blend: Blend, n_splits: int = 5, **options) -> pd.DataFrame:
    """OOF log loss of each single model, equal weights, the fitted blend and its cross-fitted estimate."""
    y, probas = _checked(y, probas)
    rows = {f"single: {name}": log_loss(y, proba) for name, proba in probas.items()}
    best_single = min(rows.values())
    rows["equal weights"] = log_loss(y, equal_blend(probas).predict(probas))
    rows["fitted blend"] = log_loss(y, blend.predict(probas))
    if len(y) >= 10 * n_splits:
        rows[f"fitted blend, cross-fitted ({n_splits} parts)"] = cross_fitted_log_loss(y, probas, n_splits, **options)
    table = pd.DataFrame({"log_loss": rows})
    table["vs_best_single"] = table["log_loss"] - best_single
    return table
