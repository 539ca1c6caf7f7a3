"""K-fold cross-validation on the run's shared folds, for any kit model.

    run = cross_validate(BaselineModel(), train, folds, test=test, name="baseline")
    run.save(out_dir, train, test)      # oof.csv, test.csv, metrics.json, fold models
    run.plots(train, out_dir)           # confusion matrix, reliability diagram, loss by length

Each fold model is trained on the other folds and predicts its own fold (out-of-fold); the fold
models together predict new rows by averaging.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from tqdm.auto import tqdm

from arenakit.artifacts import FOLDS_DIR, OOF_FILE, PLOTS_DIR, TEST_FILE, model_dir, save_metrics, save_predictions
from arenakit.metrics import evaluate, log_loss, log_loss_by_length
from arenakit.models.base import FoldEnsemble


def response_lengths(frame: pd.DataFrame) -> np.ndarray:
    """Combined characters of both responses: what the loss-by-length report buckets on."""
    return (frame["response_a"].str.len() + frame["response_b"].str.len()).to_numpy()


@dataclass
class CVRun:
    name: str
    oof: np.ndarray
    ensemble: FoldEnsemble
    metrics: dict
    test_proba: np.ndarray | None = None

    def save(self, out_dir: Path | str, train: pd.DataFrame, test: pd.DataFrame | None = None) -> Path:
        folder = model_dir(out_dir, self.name)
        save_predictions(folder / OOF_FILE, train["id"].to_numpy(), self.oof)
        if self.test_proba is not None and test is not None:
            save_predictions(folder / TEST_FILE, test["id"].to_numpy(), self.test_proba)
        save_metrics(folder, self.metrics)
        self.ensemble.save(folder / FOLDS_DIR)
        return folder

    def summary(self) -> str:
        """The headline figures of the out-of-fold report."""
        m = self.metrics
        folds = ", ".join(f"{score:.4f}" for score in m["fold_log_loss"])
        return (f"{self.name}: out-of-fold log loss {m['oof_log_loss']:.4f} (uniform 1.0986), accuracy "
                f"{m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}; per fold {folds}")

    def record_swap_asymmetry(self, train: pd.DataFrame, folds: np.ndarray) -> float:
        """Mean |P - swapped P| of one-order predictions of the first fold model on its held-out rows."""
        fold = np.unique(folds)[0]
        value = self.ensemble.models[0].swap_asymmetry(train[np.asarray(folds) == fold].reset_index(drop=True))
        self.metrics["swap_asymmetry"] = value
        return value

    def plots(self, train: pd.DataFrame, out_dir: Path | str) -> dict:
        """The out-of-fold report as figures, also saved as PNG in the model's plots folder."""
        from arenakit.plots import plot_confusion_matrix, plot_log_loss_by_length, plot_reliability

        folder = model_dir(out_dir, self.name) / PLOTS_DIR
        y = train["label"].to_numpy()
        table = log_loss_by_length(y, self.oof, response_lengths(train))
        return {
            "confusion": plot_confusion_matrix(y, self.oof, folder / "confusion_matrix.png", title=f"{self.name}: out-of-fold"),
            "reliability": plot_reliability(y, self.oof, folder / "reliability.png", title=f"{self.name}: out-of-fold"),
            "by_length": plot_log_loss_by_length(table, folder / "log_loss_by_length.png", title=f"{self.name}: loss by length"),
        }


def cross_validate(
    model,
    train: pd.DataFrame,
    folds: np.ndarray,
    test: pd.DataFrame | None = None,
    name: str | None = None,
    progress: bool = True,
) -> CVRun:
    """Fit one clone of `model` per fold; out-of-fold predictions, fold scores, test predictions."""
    folds = np.asarray(folds)
    if len(folds) != len(train):
        raise ValueError(f"{len(folds)} fold indices for {len(train)} train rows: use the folds of this train frame")
    y = train["label"].to_numpy()
    oof = np.full((len(train), 3), np.nan)
    fold_models, fold_scores, fold_seconds = [], [], []
    for fold in tqdm(np.unique(folds), desc=f"{name or type(model).__name__} folds", disable=not progress):
        started = time.perf_counter()
        fit_rows, valid_rows = folds != fold, folds == fold
        fold_model = clone(model).fit(train[fit_rows].reset_index(drop=True))
        oof[valid_rows] = fold_model.predict_proba(train[valid_rows].reset_index(drop=True))
        fold_models.append(fold_model)
        fold_scores.append(log_loss(y[valid_rows], oof[valid_rows]))
        fold_seconds.append(time.perf_counter() - started)
    ensemble = FoldEnsemble(fold_models)
    metrics = evaluate(y, oof, response_lengths(train))
    metrics.update({
        "oof_log_loss": metrics["log_loss"],
        "fold_log_loss": fold_scores,
        "fold_seconds": fold_seconds,
        "n_folds": len(fold_models),
        "model": type(model).__name__,
        "params": {k: v for k, v in model.get_params(deep=False).items() if isinstance(v, (int, float, str, bool, type(None)))},
    })
    test_proba = ensemble.predict_proba(test.reset_index(drop=True)) if test is not None else None
    return CVRun(name or type(model).__name__, oof, ensemble, metrics, test_proba)
