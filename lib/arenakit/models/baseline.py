"""Baseline: logistic regression on length and structure features.

Features are squashed with a signed log (heavy-tailed counts; the sign keeps A-minus-B features
antisymmetric), standardised, and fed to a multinomial logistic regression whose C is chosen by
an inner cross-validation on the training rows only, so out-of-fold scores stay honest. Training
on both A/B orders and swap-averaged inference make the model symmetric in A and B.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from arenakit.data import swap_labels
from arenakit.features import COMPACT_FEATURES, FEATURES_VERSION, length_features, swap_features
from arenakit.metrics import log_loss
from arenakit.models.base import ArenaModel, training_labels

DEFAULT_CS = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
STATE_FILE = "baseline.npz"


def signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


class BaselineModel(ArenaModel):
    """Standardised signed-log features -> multinomial logistic regression.

    C=None chooses C from Cs by inner_folds-fold CV on the training rows (pairs of a row and its
    swap stay in one inner fold); give C to skip the search. columns defaults to the compact set
    of arenakit.features (about 30 length, structure, refusal and similarity features), which
    scored better and more stably than all of them on the real sample; None takes every column.
    """

    def __init__(
        self,
        C: float | None = None,
        Cs: tuple = DEFAULT_CS,
        inner_folds: int = 3,
        swap_augment: bool = True,
        swap_average: bool = True,
        columns: tuple | None = COMPACT_FEATURES,
        seed: int = 0,
        max_iter: int = 2000,
    ):
        self.C = C
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.swap_augment = swap_augment
        self.swap_average = swap_average
        self.columns = columns
        self.seed = seed
        self.max_iter = max_iter

    def _design(self, features: pd.DataFrame) -> np.ndarray:
        return signed_log(features[list(self.columns_)].to_numpy(dtype=np.float64))

    def _fit_lr(self, features: pd.DataFrame, y: np.ndarray, C: float):
        if self.swap_augment:
            features = pd.concat([features, swap_features(features)], ignore_index=True)
            y = np.concatenate([y, swap_labels(y)])
        X = self._design(features)
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=C, max_iter=self.max_iter).fit((X - mean) / scale, y)
        return mean, scale, lr

    def _choose_C(self, features: pd.DataFrame, y: np.ndarray) -> tuple[float, dict]:
        splitter = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed)
        scores = {C: [] for C in self.Cs}
        for fit_rows, valid_rows in splitter.split(features, y):
            for C in self.Cs:
                mean, scale, lr = self._fit_lr(features.iloc[fit_rows], y[fit_rows], C)
                valid = features.iloc[valid_rows]
                proba = lr.predict_proba((self._design(valid) - mean) / scale)
                if self.swap_average:
                    swapped = lr.predict_proba((self._design(swap_features(valid)) - mean) / scale)
                    proba = 0.5 * (proba + swapped[:, [1, 0, 2]])
                scores[C].append(log_loss(y[valid_rows], proba))
        mean_scores = {C: float(np.mean(s)) for C, s in scores.items()}
        return min(mean_scores, key=mean_scores.get), mean_scores

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> BaselineModel:
        y = training_labels(frame, y)
        features = length_features(frame)
        self.columns_ = tuple(self.columns) if self.columns else tuple(features.columns)
        if self.C is None:
            self.C_, self.C_scores_ = self._choose_C(features, y)
        else:
            self.C_, self.C_scores_ = float(self.C), {}
        self.mean_, self.scale_, lr = self._fit_lr(features, y, self.C_)
        self.coef_, self.intercept_ = lr.coef_, lr.intercept_
        return self

    def predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        X = (self._design(length_features(frame)) - self.mean_) / self.scale_
        logits = X @ self.coef_.T + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def coefficients(self) -> pd.DataFrame:
        """Standardised coefficients per feature and class, largest magnitude first."""
        table = pd.DataFrame(self.coef_.T, index=list(self.columns_), columns=["A", "B", "tie"])
        return table.loc[table.abs().max(axis=1).sort_values(ascending=False).index]

    def _save_state(self, folder: Path) -> dict:
        np.savez(folder / STATE_FILE, mean=self.mean_, scale=self.scale_, coef=self.coef_, intercept=self.intercept_)
        return {
            "columns": list(self.columns_),
            "C": self.C_,
            "C_scores": {str(k): v for k, v in self.C_scores_.items()},
            "features_version": FEATURES_VERSION,
        }

    def _load_state(self, folder: Path, extras: dict) -> None:
        if extras["features_version"] != FEATURES_VERSION:
            raise ValueError(
                f"{folder}: saved with features version {extras['features_version']}, this kit computes "
                f"version {FEATURES_VERSION}; retrain the baseline or use the kit version that made it"
            )
        state = np.load(folder / STATE_FILE)
        self.mean_, self.scale_, self.coef_, self.intercept_ = (
            state[k] for k in ("mean", "scale", "coef", "intercept")
        )
        self.columns_, self.C_ = tuple(extras["columns"]), extras["C"]
        self.C_scores_ = {float(k): v for k, v in extras["C_scores"].items()}
