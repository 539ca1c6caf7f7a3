"""Blending model predictions: weights and temperatures fitted on out-of-fold predictions.

    blend = fit_blend(y, {"baseline": oof_a, "minilm_lgbm": oof_b})   # fitted on OOF rows only
    proba = blend.predict({"baseline": test_a, "minilm_lgbm": test_b})

The blend is a linear pool: each model's probabilities, optionally sharpened or softened by its
own temperature, are averaged with non-negative weights summing to 1, and the average gets an
optional temperature of its own. Temperature T maps p to softmax(log p / T): T > 1 softens an
over-confident model, T < 1 sharpens a timid one.

A model trained on some folds only (the LoRA notebook trains fold 0 by default) predicted only
those folds' rows out-of-fold; its other rows are NaN here. The models that predicted every row
(there must be one) are the base, fitted on every row. A partial model comes in on its own rows:
on a row it did not predict, the pool is the other models' with their weights renormalised, so
its weight and temperature are fitted on its rows alone and it never shrinks the rows the others
are fitted on. On test.csv every model predicts every row and the pool is the plain weighted sum.

Fitted in two steps, neither of which can raise the OOF log loss: the base models' weights
alone (the log loss of a linear pool is convex in the weights, so SLSQP finds the global
optimum; the best single model is checked as a fallback anyway), then, from there, every weight
(partial models' included) and the chosen temperatures together, kept only when they lower the
loss. The in-sample figure of a fitted blend is therefore never worse than the best single
model's; arenakit.ensemble.choice scores it on rows it was not fitted on and picks what the
submission uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from arenakit.core.schema import N_CLASSES
from arenakit.evaluation.metrics import check_predictions, log_loss

# Temperatures are searched in [1/2, 2]. On the 999 real sample rows wider bounds ran to the
# edges (a model at T = 4 with the blend at T = 0.3, the two cancelling out) and scored no
# better on rows the blend was not fitted on.
LOG_TEMPERATURE_BOUND = np.log(2.0)
_FLOOR = 1e-12  # keeps log p finite for a model that predicted an exact zero
NEGLIGIBLE_WEIGHT = 0.01  # a model with less is dropped from the blend (see fit_blend)


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T), row by row; T = 1 returns the probabilities unchanged."""
    proba = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _FLOOR, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def predicted_rows(proba: np.ndarray) -> np.ndarray:
    """Which rows a model predicted: its rows of finite values (NaN marks a row it did not predict)."""
    return np.isfinite(np.asarray(proba, dtype=np.float64)).all(axis=1)


def fit_weights(y: np.ndarray, probas: list[np.ndarray]) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the log loss of sum_m w_m p_m (every row predicted)."""
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
    """Weights and temperatures per model (by name), the temperature of the blend, and the rows behind them."""

    names: tuple[str, ...]
    weights: np.ndarray
    temperatures: np.ndarray
    temperature: float = 1.0
    n_rows: int = 0  # OOF rows it was fitted on (0: not fitted)
    model_rows: tuple[int, ...] = ()  # OOF rows behind each model's weight (those it predicted); () when not fitted

    @property
    def used(self) -> tuple[str, ...]:
        """The models with a weight: only their predictions are needed."""
        return tuple(name for name, weight in zip(self.names, self.weights) if weight > 0)

    def predict(self, probas: Mapping[str, np.ndarray]) -> np.ndarray:
        """The pool; a row a model did not predict (NaN) is pooled from the others, their weights renormalised."""
        missing = [name for name in self.used if name not in probas]
        if missing:
            raise KeyError(f"the blend needs predictions of {', '.join(missing)}; got {', '.join(probas)}")
        arrays = [np.asarray(probas[name], dtype=np.float64) for name in self.used]
        weights = np.array([w for w in self.weights if w > 0])
        temperatures = [t for w, t in zip(self.weights, self.temperatures) if w > 0]
        present = np.column_stack([predicted_rows(p) for p in arrays])
        row_weights = present * weights
        total = row_weights.sum(axis=1)
        if (total <= 0).any():
            raise ValueError(
                f"{int((total <= 0).sum())} row(s) have no prediction from a model with a weight "
                f"({', '.join(self.used)}): every row needs one"
            )
        pooled = sum(
            row_weights[:, [k]] * np.where(present[:, [k]], apply_temperature(p, t), 0.0)
            for k, (p, t) in enumerate(zip(arrays, temperatures))
        )
        return apply_temperature(pooled / total[:, None], self.temperature)

    def table(self) -> pd.DataFrame:
        """Weight, temperature and the OOF rows behind each weight, by model."""
        rows = self.model_rows or (None,) * len(self.names)
        return pd.DataFrame(
            {"weight": self.weights, "temperature": self.temperatures, "rows": rows}, index=list(self.names)
        )

    def to_dict(self) -> dict:
        rows = self.model_rows or (None,) * len(self.names)
        return {
            "models": {
                name: {"weight": float(w), "temperature": float(t), "rows": None if n is None else int(n)}
                for name, w, t, n in zip(self.names, self.weights, self.temperatures, rows)
            },
            "blend_temperature": float(self.temperature),
            "n_rows": int(self.n_rows),
        }


def equal_blend(names) -> Blend:
    names = tuple(names)
    return Blend(names, np.full(len(names), 1.0 / len(names)), np.ones(len(names)))


def single_blend(name: str, n_rows: int = 0) -> Blend:
    """One model as it is: weight 1, no temperature."""
    return Blend((name,), np.ones(1), np.ones(1), 1.0, n_rows, (n_rows,) if n_rows else ())


def checked_predictions(y, probas: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels and each model's predictions, checked on the rows it predicted; one model must predict every row."""
    if not probas:
        raise ValueError("nothing to blend: no model predictions given")
    y = np.asarray(y)
    checked = {}
    for name, proba in probas.items():
        proba = np.asarray(proba, dtype=np.float64)
        try:
            if proba.shape != (len(y), N_CLASSES):
                check_predictions(y, proba)  # words the shape problem
            rows = predicted_rows(proba)
            if not rows.any():
                raise ValueError("it predicted none of these rows")
            check_predictions(y[rows], proba[rows])
        except ValueError as error:
            raise ValueError(f"{name}: out-of-fold predictions unusable for the blend: {error}") from error
        checked[name] = proba
    if not any(predicted_rows(p).all() for p in checked.values()):
        coverage = ", ".join(f"{name} {int(predicted_rows(p).sum())}" for name, p in checked.items())
        raise ValueError(
            f"no model predicted every one of the {len(y)} rows (rows per model: {coverage}); "
            "the blend needs one to fit on every row"
        )
    return check_predictions(y, next(p for p in checked.values() if predicted_rows(p).all()))[0], checked


def _tune(
    y: np.ndarray, probas: dict[str, np.ndarray], start: Blend, model_temperatures: bool, blend_temperature: bool
):
    """Every weight and the chosen temperatures together, from `start`; kept only when they lower the loss.

    Temperatures and weights interact (softening one model changes how much weight it deserves),
    so they are fitted jointly, with L-BFGS on weight logits and log temperatures. Models without
    a weight in `start` (partial models) start as heavy as the average base model.
    """
    n_models = len(start.names)
    n_free = n_models * model_temperatures + blend_temperature

    def unpack(theta):
        logits = theta[:n_models] - theta[:n_models].max()
        weights = np.exp(logits) / np.exp(logits).sum()
        log_t = theta[n_models:]
        temperatures = np.exp(log_t[:n_models]) if model_temperatures else np.ones(n_models)
        temperature = float(np.exp(log_t[-1])) if blend_temperature else 1.0
        return Blend(start.names, weights, temperatures, temperature, start.n_rows, start.model_rows)

    def loss(theta):
        return log_loss(y, unpack(theta).predict(probas))

    base = start.weights > 0
    start_weights = np.where(base, start.weights, start.weights[base].mean())
    theta0 = np.concatenate([np.log(np.clip(start_weights, 1e-6, None)), np.zeros(n_free)])
    bounds = [(-30.0, 30.0)] * n_models + [(-LOG_TEMPERATURE_BOUND, LOG_TEMPERATURE_BOUND)] * n_free
    result = minimize(loss, theta0, method="L-BFGS-B", bounds=bounds)
    tuned = unpack(result.x)
    return tuned if loss(result.x) < log_loss(y, start.predict(probas)) else start


def fit_blend(
    y, probas: Mapping[str, np.ndarray], model_temperatures: bool = True, blend_temperature: bool = True
) -> Blend:
    """Fit weights (and the chosen temperatures) on out-of-fold predictions; NaN rows: not predicted by that model.

    A model left with a weight under NEGLIGIBLE_WEIGHT gets 0 and the others are refitted without
    it: its share changes nothing, and the submission would run its inference (hours for a large
    model on Kaggle) for nothing. A model that predicted every row is dropped only while another does.
    """
    y, probas = checked_predictions(y, probas)
    blend = _fit(y, probas, model_temperatures, blend_temperature)
    full = {name for name, p in probas.items() if predicted_rows(p).all()}
    negligible = {name for name, w in zip(blend.names, blend.weights) if 0 < w < NEGLIGIBLE_WEIGHT}
    if not negligible or not full - negligible:
        return blend
    kept = _fit(y, {n: p for n, p in probas.items() if n not in negligible}, model_temperatures, blend_temperature)
    fitted = dict(zip(kept.names, zip(kept.weights, kept.temperatures)))
    weights, temperatures = zip(*(fitted.get(name, (0.0, 1.0)) for name in blend.names))
    return Blend(blend.names, np.array(weights), np.array(temperatures), kept.temperature, len(y), blend.model_rows)


def _fit(y: np.ndarray, probas: dict[str, np.ndarray], model_temperatures: bool, blend_temperature: bool) -> Blend:
    names = tuple(probas)
    present = np.column_stack([predicted_rows(p) for p in probas.values()])
    full = present.all(axis=0)
    weights = np.zeros(len(names))
    weights[full] = fit_weights(y, [p for p, every_row in zip(probas.values(), full) if every_row])
    rows = tuple(int(n) for n in present.sum(axis=0))
    blend = Blend(names, weights, np.ones(len(names)), 1.0, len(y), rows)
    if not full.all() or model_temperatures or blend_temperature:
        blend = _tune(y, probas, blend, model_temperatures, blend_temperature)
    return blend
