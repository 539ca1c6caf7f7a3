"""Each fold model of a trained model folder predicting the same rows: one set of predictions per fold.

    per_fold_predictions(out_dir / "deberta_lora", frame)      # id, fold, winner_model_a/_b, winner_tie

What distillation needs from a teacher (issue 22): student fold k learns from teacher fold k, the
model that never saw fold k's labels, so every fold model predicts every row given (train rows
and extra rows alike), not only the rows it held out. The folder is checked as the ensemble
checks it (markers, folds against metrics.json, a finished save), then one fold model at a time
is loaded, predicts, and is released: a big teacher's folds need not fit in memory together.

Under torchrun / accelerate launch each process predicts its share of the rows and every
process receives all of them (arenakit.core.distributed.predict_in_shards).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from arenakit.core.artifacts import FOLDS_DIR, load_metrics
from arenakit.core.completion import check_complete
from arenakit.core.distributed import is_main_process, predict_in_shards
from arenakit.core.errors import ArtifactError
from arenakit.core.schema import CLASS_COLUMNS
from arenakit.models.base import FOLD_PREFIX, load_model
from arenakit.models.checks import check_probabilities
from arenakit.pipeline.model_folder import MARKER_FILES, is_model_folder, saved_folds

PREDICTION_COLUMNS = ("id", "fold", *CLASS_COLUMNS)


def checked_fold_folders(model_folder: Path | str, folds: list[int] | None = None) -> dict[int, Path]:
    """The fold model folders to predict with, by fold number: the saved ones, or the ones asked for."""
    model_folder = Path(model_folder)
    if not is_model_folder(model_folder):
        raise ArtifactError(
            f"{model_folder}: not a trained model folder (it needs {', '.join(MARKER_FILES)} and {FOLDS_DIR}/); "
            "pass a run's model folder, e.g. out/deberta_lora, after its training has finished"
        )
    saved = saved_folds(model_folder, load_metrics(model_folder))
    check_complete(model_folder)
    chosen = saved if folds is None else [int(k) for k in folds]
    missing = [k for k in chosen if k not in saved]
    if missing or not chosen:
        raise ArtifactError(f"{model_folder}: folds {chosen} were asked for; its saved fold models are folds {saved}")
    return {k: model_folder / FOLDS_DIR / f"{FOLD_PREFIX}{k}" for k in chosen}


def per_fold_predictions(
    model_folder: Path | str,
    frame: pd.DataFrame,
    folds: list[int] | None = None,
    progress: bool = True,
    overrides: dict | None = None,
) -> pd.DataFrame:
    """Every chosen fold model's predictions on every row of frame (a parsed frame with an id column).

    The result has len(folds) * len(frame) rows, fold by fold, each fold's rows in frame's order:
    columns id, fold and CLASS_COLUMNS (the probabilities, each row summing to 1). overrides: settings
    the fold models are loaded with (inference settings such as max_batch_tokens or device).
    """
    if frame["id"].duplicated().any():
        repeated = frame["id"][frame["id"].duplicated()].unique()
        raise ValueError(f"the rows to predict repeat id(s) {list(repeated[:5])}: every row needs its own id")
    rows = frame.reset_index(drop=True)
    parts = []
    chosen = checked_fold_folders(model_folder, folds)
    for fold, folder in tqdm(
        chosen.items(), desc=f"{Path(model_folder).name} fold models", disable=not progress or not is_main_process()
    ):
        model = load_model(folder, **(overrides or {}))
        proba = predict_in_shards(model.predict_proba, rows)
        proba = check_probabilities(proba, len(rows), f"{type(model).__name__} of {folder}")
        part = pd.DataFrame(proba, columns=list(CLASS_COLUMNS))
        part.insert(0, "fold", np.full(len(rows), fold, dtype=np.int64))
        part.insert(0, "id", rows["id"].to_numpy())
        parts.append(part)
        del model
        gc.collect()  # the next fold model loads into the memory this one held, the GPU's too
        torch = sys.modules.get("torch")  # only a model that loaded torch can hold GPU memory
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
    return pd.concat(parts, ignore_index=True)[list(PREDICTION_COLUMNS)]
