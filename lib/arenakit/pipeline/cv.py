"""K-fold cross-validation on the run's shared folds, for any kit model.

    run = cross_validate(BaselineModel(), train, folds, test=test, name="baseline")
    run.save(out_dir, train, test)      # oof.csv, test.csv, metrics.json, fold models
    run.plots(train, out_dir)           # confusion matrix, reliability diagram, loss by length

Each fold model is trained on the other folds and predicts its own fold (out-of-fold); the fold
models together predict new rows by averaging. Big models may train only some folds
(only_folds): the out-of-fold predictions then cover those folds' rows, and metrics.json says
which folds (folds_trained) and how many rows (oof_rows).

With fold_dir, each fold model is saved there as soon as it is trained, and a rerun loads a
saved fold (same rows, same parameters) instead of training it again; a model with a
checkpoint parameter (ArenaTags.checkpoint_param) also checkpoints inside each fold (fold_dir/../checkpoints/fold_k), so
an interrupted run continues where it stopped.

Under torchrun / accelerate launch every process runs this same code: each trains the fold
together with the others (the model's own loop spreads the batches), each predicts its share of
the rows, and all receive every prediction; only process 0 writes files (arenakit.core.distributed).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from tqdm.auto import tqdm

from arenakit.core.artifacts import (
    FOLDS_DIR,
    OOF_FILE,
    ORDER_FILES,
    PLOTS_DIR,
    TEST_FILE,
    model_dir,
    read_json,
    save_metrics,
    save_predictions,
)
from arenakit.core.atomic import recording_writes, remove, write_json
from arenakit.core.completion import check_hashes, finish_save, start_save
from arenakit.core.distributed import is_main_process, only_main_process_writes, predict_in_shards
from arenakit.core.errors import ArtifactError
from arenakit.core.phases import timed
from arenakit.core.schema import N_CLASSES
from arenakit.evaluation.metrics import evaluate, log_loss, log_loss_by_length
from arenakit.evaluation.plots import plot_confusion_matrix, plot_log_loss_by_length, plot_reliability
from arenakit.models.base import FOLD_PREFIX, MODEL_FILE, FoldEnsemble, load_model
from arenakit.models.distill import DISTILL_SETTINGS
from arenakit.pipeline.teachers import Teacher, announce, targets_digest, with_extra_rows, with_teacher

FOLD_RECORD = "fold.json"
CHECKPOINTS_DIR = "checkpoints"


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
    oof_rows: np.ndarray | None = None  # which train rows have out-of-fold predictions (None: all)
    # A swap-averaged model's (n, 2, 3) out-of-fold predictions in each order (the swapped one mapped
    # back), whose mean is oof; None for a one-order or symmetric model.
    oof_orders: np.ndarray | None = None

    def rows(self) -> np.ndarray:
        return np.ones(len(self.oof), dtype=bool) if self.oof_rows is None else self.oof_rows

    def save(self, out_dir: Path | str, train: pd.DataFrame, test: pd.DataFrame | None = None) -> Path:
        """The artifacts contract (process 0 of a launched run writes; every process gets the folder)."""
        folder = model_dir(out_dir, self.name)
        with only_main_process_writes() as writer, timed("save"):
            if writer:
                rows = self.rows()
                start_save(folder)  # from here until finish_save, the folder reads as unfinished
                with recording_writes() as written:
                    save_predictions(folder / OOF_FILE, train["id"].to_numpy()[rows], self.oof[rows])
                    if self.oof_orders is not None:
                        for order, file in enumerate(ORDER_FILES):
                            save_predictions(folder / file, train["id"].to_numpy()[rows], self.oof_orders[rows, order])
                    if self.test_proba is not None and test is not None:
                        save_predictions(folder / TEST_FILE, test["id"].to_numpy(), self.test_proba)
                    save_metrics(folder, self.metrics)
                    self.ensemble.save(folder / FOLDS_DIR)
                fold_records = [folder / FOLDS_DIR / f"{FOLD_PREFIX}{k}" / FOLD_RECORD for k in self.ensemble.fold_ids]
                finish_save(folder, [*written, *(path for path in fold_records if path.is_file())])
        return folder

    def summary(self) -> str:
        """The headline figures of the out-of-fold report."""
        m = self.metrics
        folds = ", ".join(f"{score:.4f}" for score in m["fold_log_loss"])
        return (
            f"{self.name}: out-of-fold log loss {m['oof_log_loss']:.4f} (uniform 1.0986), accuracy "
            f"{m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}; per fold {folds}"
        )

    def record_swap_asymmetry(self, train: pd.DataFrame, folds: np.ndarray, max_rows: int = 128) -> float:
        """Mean |P - swapped P| of one-order predictions of the first fold model on (up to max_rows of) its held-out rows."""
        fold = self.ensemble.fold_ids[0]
        held_out = train[np.asarray(folds) == fold].reset_index(drop=True)
        value = self.ensemble.models[0].swap_asymmetry(held_out.iloc[:max_rows])
        self.metrics["swap_asymmetry"] = value
        return value

    def plots(self, train: pd.DataFrame, out_dir: Path | str) -> dict:
        """The out-of-fold report as figures, also saved as PNG in the model's plots folder."""
        folder = model_dir(out_dir, self.name) / PLOTS_DIR
        rows = self.rows()
        y, oof = train["label"].to_numpy()[rows], self.oof[rows]
        table = log_loss_by_length(y, oof, response_lengths(train)[rows])
        return {
            "confusion": plot_confusion_matrix(
                y, oof, folder / "confusion_matrix.png", title=f"{self.name}: out-of-fold"
            ),
            "reliability": plot_reliability(y, oof, folder / "reliability.png", title=f"{self.name}: out-of-fold"),
            "by_length": plot_log_loss_by_length(
                table, folder / "log_loss_by_length.png", title=f"{self.name}: loss by length"
            ),
        }


def _fold_key(model, fit_ids: np.ndarray, targets: str = "", teacher: dict | None = None) -> str:
    """What a saved fold model must match to be reused: its training rows, its parameters and its teacher.

    targets: the digest of the fit frame's teacher probabilities and row weights (teachers.targets_digest);
    without them the distillation settings change nothing, so they are left out (older folds stay valid).
    """
    run_only = set(model.arena_tags.run_only_params) | (set() if targets else set(DISTILL_SETTINGS))
    params = {k: v for k, v in model.settings().items() if k not in run_only}
    params = json.dumps(params, sort_keys=True, default=str)
    extra = (targets + json.dumps(teacher, sort_keys=True, default=str)) if targets else ""
    return hashlib.sha256(np.asarray(fit_ids).astype(str).tobytes() + params.encode() + extra.encode()).hexdigest()[:16]


def _recorded_key(record: Path) -> str | None:
    """The key a finished fold was saved under; None when its record is damaged (the fold is retrained)."""
    try:
        return read_json(record, "a fold record").get("key")
    except ArtifactError as error:
        print(f"{error}: that fold is trained again")
        return None


def _fold_files_whole(folder: Path) -> bool:
    """Whether a finished fold's files are the ones its model.json recorded (a fold saved before
    model.json held hashes counts as whole); when not, it is trained again."""
    try:
        check_hashes(
            folder, read_json(folder / MODEL_FILE, "a saved model's record").get("files", {}), folder / MODEL_FILE
        )
    except (OSError, ArtifactError) as error:
        print(f"{error}: that fold is trained again")
        return False
    return True


def _fit_fold(model, fit_frame: pd.DataFrame, fold: int, fold_dir: Path | None, teacher: dict | None = None):
    """A fitted clone for one fold: loaded when fold_dir holds a matching one, else trained (and saved)."""
    fold_model = clone(model)
    if teacher is not None:
        fold_model.teacher_ = teacher  # model.json records it (ArenaModel.save)
    if fold_dir is None:
        return fold_model.fit(fit_frame)
    folder = fold_dir / f"{FOLD_PREFIX}{fold}"
    if fold_model.arena_tags.checkpoint_param:
        checkpoints = fold_dir.parent / CHECKPOINTS_DIR / f"{FOLD_PREFIX}{fold}"
        fold_model.set_params(**{fold_model.arena_tags.checkpoint_param: str(checkpoints)})
    key = _fold_key(model, fit_frame["id"].to_numpy(), targets_digest(fit_frame), teacher)
    record = folder / FOLD_RECORD
    if record.is_file() and _recorded_key(record) == key and _fold_files_whole(folder):
        return load_model(folder)
    fold_model.fit(fit_frame)
    with only_main_process_writes() as writer, timed("save"):
        if writer:
            if fold_dir.name == FOLDS_DIR:
                start_save(fold_dir.parent)  # the model folder's files are about to change: unfinished
            remove(record)  # a crash while the fold saves leaves no record: the fold is retrained
            fold_model.save(folder)
            write_json(record, {"key": key})  # written last: a fold without it is retrained
    return fold_model


def cross_validate(
    model,
    train: pd.DataFrame,
    folds: np.ndarray,
    test: pd.DataFrame | None = None,
    name: str | None = None,
    progress: bool = True,
    only_folds: list[int] | None = None,
    fold_dir: Path | str | None = None,
    teacher: Teacher | None = None,
    extra: pd.DataFrame | None = None,
) -> CVRun:
    """Fit one clone of `model` per fold (or per fold in only_folds); out-of-fold predictions, fold scores, test predictions.

    teacher: soft targets per fold (arenakit.pipeline.teachers): fold k trains on teacher fold k's
    predictions. extra: rows appended to every fold's training rows (never predicted out-of-fold,
    never scored); unlabelled ones (label UNLABELLED) train on the teacher's probabilities.
    """
    folds = np.asarray(folds)
    if len(folds) != len(train):
        raise ValueError(f"{len(folds)} fold indices for {len(train)} train rows: use the folds of this train frame")
    all_folds = [int(k) for k in np.unique(folds)]
    chosen = all_folds if only_folds is None else [int(k) for k in only_folds]
    unknown = sorted(set(chosen) - set(all_folds))
    if unknown or not chosen:
        raise ValueError(f"only_folds={only_folds}: the folds are {all_folds}")
    fold_dir = Path(fold_dir) if fold_dir is not None else None
    if teacher is not None:
        teacher.check_folds(chosen)
    teacher_record = teacher.describe(model) if teacher is not None else None
    warning = announce(teacher)
    y = train["label"].to_numpy()
    oof = np.full((len(train), N_CLASSES), np.nan)
    # Both orders kept apart when the model swap-averages: a cascade may run the swapped pass on some rows only.
    orders = np.full((len(train), 2, N_CLASSES), np.nan) if model.swap_averaged else None
    fold_models, fold_scores, fold_seconds = [], [], []
    for fold in tqdm(
        chosen, desc=f"{name or type(model).__name__} folds", disable=not progress or not is_main_process()
    ):
        started = time.perf_counter()
        valid_rows = folds == fold
        fit_frame = with_teacher(with_extra_rows(train, folds, fold, extra), teacher, fold)
        fold_model = _fit_fold(model, fit_frame, fold, fold_dir, teacher_record)
        with timed("predict"):
            held_out = train[valid_rows].reset_index(drop=True)
            if orders is None:
                oof[valid_rows] = predict_in_shards(fold_model.predict_proba, held_out)
            else:
                orders[valid_rows] = predict_in_shards(partial(_both_orders, fold_model), held_out)
                oof[valid_rows] = orders[valid_rows].mean(axis=1)  # exactly what predict_proba gives
        fold_models.append(fold_model)
        fold_scores.append(log_loss(y[valid_rows], oof[valid_rows]))
        fold_seconds.append(time.perf_counter() - started)
    ensemble = FoldEnsemble(fold_models, chosen)
    rows = np.isin(folds, chosen)
    metrics = evaluate(y[rows], oof[rows], response_lengths(train)[rows])
    metrics.update(
        {
            "folds_trained": chosen,
            "oof_rows": int(rows.sum()),
            "oof_log_loss": metrics["log_loss"],
            "fold_log_loss": fold_scores,
            "fold_seconds": fold_seconds,
            "n_folds": len(all_folds),
            "model": type(model).__name__,
            "params": {k: v for k, v in model.settings().items() if isinstance(v, (int, float, str, bool, type(None)))},
            "teacher": teacher_record,
            "extra_rows": 0 if extra is None else len(extra),
        }
    )
    if warning:
        metrics["notices"] = [warning]
    with timed("predict"):
        test_proba = (
            predict_in_shards(ensemble.predict_proba, test.reset_index(drop=True)) if test is not None else None
        )
    return CVRun(name or type(model).__name__, oof, ensemble, metrics, test_proba, None if rows.all() else rows, orders)


def _both_orders(model, rows: pd.DataFrame) -> np.ndarray:
    return np.stack(model.predict_orders(rows), axis=1)
