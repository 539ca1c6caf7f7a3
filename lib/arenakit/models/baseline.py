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

from arenakit.core.artifacts import load_arrays
from arenakit.core.atomic import write_npz
from arenakit.core.errors import ArtifactError
from arenakit.core.schema import CLASS_NAMES, N_CLASSES
from arenakit.core.settings import boolean, integer, list_of, real, text
from arenakit.core.swap import average_orders
from arenakit.evaluation.metrics import log_loss
from arenakit.inputs.features import (
    COMPACT_FEATURES,
    FEATURES_VERSION,
    check_features_version,
    surface_features,
    swap_features,
)
from arenakit.models.base import ArenaModel, ArenaTags, training_labels
from arenakit.models.distill import (
    DEFAULT_DISTILL_TEMPERATURE,
    DEFAULT_DISTILL_WEIGHT,
    DISTILL_SETTINGS,
    carries_targets,
    class_weights,
    expand_rows,
    fit_targets,
    swap_weights,
)
from arenakit.models.property_params import PROPERTY_SETTINGS, UsesProperties

DEFAULT_CS = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
STATE_FILE = "baseline.npz"


def signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def imputation_values(features: pd.DataFrame) -> np.ndarray:
    """What a missing value (an unrated response's property) becomes, per column: the training mean.

    A side column's mean is taken over both sides' columns together and a difference's is 0, so
    the filled features of a row's swap are exactly the swapped filled features. The judge_rated_a
    / _b columns say which values were filled. A column with no value at all gets 0.
    """
    fill = np.zeros(features.shape[1])
    for index, column in enumerate(features.columns):
        if column.startswith(("diff_", "logratio_")):
            continue
        values = features[column].to_numpy(np.float64)
        if column.endswith(("_a", "_b")) and column[:-1] + "b" in features and column[:-1] + "a" in features:
            values = features[[column[:-1] + "a", column[:-1] + "b"]].to_numpy(np.float64).ravel()
        present = values[~np.isnan(values)]
        fill[index] = present.mean() if len(present) else 0.0
    return fill


class BaselineModel(UsesProperties, ArenaModel):
    """Standardised signed-log surface features -> multinomial logistic regression.

    Parameters
    ----------
    C : inverse regularisation strength; None chooses it from Cs by inner_folds-fold CV on the
        training rows (a row and its swap stay in one inner fold).
    Cs : the candidates for C when C is None.
    inner_folds : folds of the inner CV that chooses C.
    swap_augment : train on both A/B orders (each row and its swap, labels 0/1 exchanged).
    swap_average : average each prediction with the mapped-back prediction on the swapped rows
        (exactly symmetric in A and B).
    columns : the feature columns of arenakit.inputs.features.surface_features to use; the default is
        its compact set (about 30 length, structure, refusal and similarity features), which scored
        better and more stably than all of them on the real sample; None takes every column.
    seed : seed of the inner CV split.
    max_iter : iterations of the logistic regression solver.
    properties : an annotation file (python -m arenakit.annotate): each side's LLM-judged ratings and
        their A-B differences are added to the columns (arenakit.inputs.property_features); a
        response without a rating gets the training mean of that rating, and judge_rated_a / _b say
        which. None: no property features.
    properties_judge : whose ratings, when the file holds several judges or taxonomy versions.
    distill_weight, distill_temperature : with a teacher on the fit frame (TEACHER_COLUMNS), each
        row trains once per class with weight (1 - distill_weight) * onehot + distill_weight *
        teacher at that temperature (arenakit.models.distill); without one they change nothing.
    """

    _fitted_attribute = "coef_"
    arena_tags = ArenaTags(path_params=frozenset({"properties"}))
    inference_params = frozenset({"swap_average", "properties"})
    declared_settings = {
        "C": real(0, above=True, optional=True, none="chosen by inner cross-validation"),
        "Cs": list_of(real(0, above=True)),
        "inner_folds": integer(2),
        "swap_augment": boolean(),
        "swap_average": boolean(),
        "columns": list_of(text(), optional=True, none="every surface feature"),
        "seed": integer(0),
        "max_iter": integer(1),
        **PROPERTY_SETTINGS,
        **DISTILL_SETTINGS,
    }

    def __init__(
        self,
        *,
        C: float | None = None,
        Cs: tuple = DEFAULT_CS,
        inner_folds: int = 3,
        swap_augment: bool = True,
        swap_average: bool = True,
        columns: tuple | None = COMPACT_FEATURES,
        seed: int = 0,
        max_iter: int = 2000,
        properties: str | None = None,
        properties_judge: str | None = None,
        distill_weight: float = DEFAULT_DISTILL_WEIGHT,
        distill_temperature: float = DEFAULT_DISTILL_TEMPERATURE,
    ):
        self.C = C
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.swap_augment = swap_augment
        self.swap_average = swap_average
        self.columns = columns
        self.seed = seed
        self.max_iter = max_iter
        self.properties = properties
        self.properties_judge = properties_judge
        self.distill_weight = distill_weight
        self.distill_temperature = distill_temperature

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The surface features of these rows, and the property features when properties is set."""
        features = surface_features(frame)
        ratings = self.property_ratings()
        return features if ratings is None else pd.concat([features, ratings.features(frame)], axis=1)

    def _design(self, features: pd.DataFrame) -> np.ndarray:
        X = features[list(self.columns_)].to_numpy(dtype=np.float64)
        return signed_log(np.where(np.isnan(X), self.fill_, X))

    def _fit_lr(self, features: pd.DataFrame, weights: np.ndarray, C: float):
        """weights: (n, 3) per-row class weights (one-hot for plain labels; arenakit.models.distill)."""
        if self.swap_augment:
            features = pd.concat([features, swap_features(features)], ignore_index=True)
            weights = np.concatenate([weights, swap_weights(weights)])
        X = self._design(features)
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0
        rows, classes, row_weights = expand_rows(weights)
        # One-hot weights expand to the rows themselves: the plain fit, without sample weights.
        sample_weight = None if np.all(row_weights == 1) and len(rows) == len(features) else row_weights
        lr = LogisticRegression(C=C, max_iter=self.max_iter).fit((X[rows] - mean) / scale, classes, sample_weight)
        return mean, scale, lr

    def _choose_C(self, features: pd.DataFrame, y: np.ndarray, weights: np.ndarray) -> tuple[float, dict]:
        splitter = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed)
        scores = {C: [] for C in self.Cs}
        for fit_rows, valid_rows in splitter.split(features, y):
            # Scored on the held-out rows' labels (unlabelled extra rows have none).
            valid_rows = valid_rows[y[valid_rows] >= 0]
            for C in self.Cs:
                mean, scale, lr = self._fit_lr(features.iloc[fit_rows], weights[fit_rows], C)
                valid = features.iloc[valid_rows]
                proba = lr.predict_proba((self._design(valid) - mean) / scale)
                if self.swap_average:
                    swapped = lr.predict_proba((self._design(swap_features(valid)) - mean) / scale)
                    proba = average_orders(proba, swapped)
                scores[C].append(log_loss(y[valid_rows], proba))
        mean_scores = {C: float(np.mean(s)) for C, s in scores.items()}
        return min(mean_scores, key=mean_scores.get), mean_scores

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> BaselineModel:
        self.check_settings()
        if carries_targets(frame):
            targets = fit_targets(frame, y)
            y, weights = targets.labels, class_weights(targets, self.distill_weight, self.distill_temperature)
        else:
            y = training_labels(frame, y)
            weights = np.eye(N_CLASSES)[y]
        ratings = self._fit_properties(frame)
        features = self.features(frame)
        added = tuple(ratings.columns()) if ratings is not None else ()
        chosen = tuple(self.columns) if self.columns else tuple(c for c in features.columns if c not in added)
        self.columns_ = chosen + tuple(c for c in added if c not in chosen)
        self.fill_ = imputation_values(features[list(self.columns_)])
        if self.C is None:
            self.C_, self.C_scores_ = self._choose_C(features, y, weights)
        else:
            self.C_, self.C_scores_ = float(self.C), {}
        self.mean_, self.scale_, lr = self._fit_lr(features, weights, self.C_)
        self.coef_, self.intercept_ = lr.coef_, lr.intercept_
        return self

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        X = (self._design(self.features(frame)) - self.mean_) / self.scale_
        logits = X @ self.coef_.T + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def coefficients(self) -> pd.DataFrame:
        """Standardised coefficients per feature and class, largest magnitude first."""
        table = pd.DataFrame(self.coef_.T, index=list(self.columns_), columns=list(CLASS_NAMES))
        return table.loc[table.abs().max(axis=1).sort_values(ascending=False).index]

    def _save_state(self, folder: Path) -> dict:
        write_npz(folder / STATE_FILE, mean=self.mean_, scale=self.scale_, coef=self.coef_, intercept=self.intercept_)
        return {
            "columns": list(self.columns_),
            "C": self.C_,
            "C_scores": {str(k): v for k, v in self.C_scores_.items()},
            "features_version": FEATURES_VERSION,
            "fill": [float(value) for value in self.fill_],
            **self._properties_state(),
        }

    def _load_state(self, folder: Path, extras: dict) -> None:
        check_features_version(extras["features_version"])
        state = load_arrays(folder / STATE_FILE, ("mean", "scale", "coef", "intercept"))
        self.columns_, self.C_ = tuple(extras["columns"]), extras["C"]
        self.C_scores_ = {float(k): v for k, v in extras["C_scores"].items()}
        n_columns = len(self.columns_)
        # Saved before imputation existed: its columns had no missing values.
        self.fill_ = np.asarray(extras.get("fill", [0.0] * n_columns), np.float64)
        self._load_properties_state(extras)
        expected = {
            "mean": (n_columns,),
            "scale": (n_columns,),
            "coef": (N_CLASSES, n_columns),
            "intercept": (N_CLASSES,),
        }
        wrong = [
            f"{key} {state[key].shape} (expected {shape})"
            for key, shape in expected.items()
            if state[key].shape != shape
        ]
        if wrong:
            raise ArtifactError(
                f"{folder / STATE_FILE}: arrays of the wrong shape: {', '.join(wrong)}; retrain the baseline"
            )
        self.mean_, self.scale_, self.coef_, self.intercept_ = (state[key] for key in expected)
