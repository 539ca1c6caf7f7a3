"""The run's ensemble as a per-fold teacher (issue 22): the chosen blend applied fold by fold.

    write_ensemble_teacher(out_dir, rows)     # ensemble/teacher_folds.csv: id, fold, the three class columns
    # then any model notebook with teacher="ensemble" (or python -m arenakit.train lora --teacher ensemble)

The ensemble notebook saves the blend it chose (ensemble/blend.json: weights and temperatures fitted
on out-of-fold predictions). Teacher fold k is that blend applied to every member's fold-k model
predictions, so student fold k learns only from models that never saw fold k's labels. A member
trained on some folds only (the LoRA notebook's default) has no fold-k model for the other folds:
there the blend pools the others, as it does on rows a partial member did not predict.
(The blend's weights themselves were fitted on every fold's OOF rows: a small leak of a few
numbers, not of any row's label.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.artifacts import model_dir, read_json
from arenakit.core.schema import CLASS_COLUMNS
from arenakit.data.teacher_file import write_teacher_file
from arenakit.ensemble.blend import Blend
from arenakit.ensemble.run import BLEND_FILE
from arenakit.pipeline.fold_predictions import per_fold_predictions
from arenakit.pipeline.notebooks import SUBMISSION_NOTEBOOK
from arenakit.pipeline.teachers import ENSEMBLE_TEACHER_FILE


def saved_blend(out_dir: Path | str) -> Blend:
    """The blend the ensemble notebook chose for this run folder (its blend.json)."""
    path = model_dir(out_dir, SUBMISSION_NOTEBOOK) / BLEND_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run the ensemble notebook on {out_dir} first, then write its teacher"
        )
    record = read_json(path, "the ensemble's blend", "run the ensemble notebook again")
    models = record["models"]
    return Blend(
        tuple(models),
        np.array([float(models[name]["weight"]) for name in models]),
        np.array([float(models[name]["temperature"]) for name in models]),
        float(record.get("blend_temperature", 1.0)),
    )


def ensemble_fold_predictions(out_dir: Path | str, rows: pd.DataFrame) -> pd.DataFrame:
    """Per fold k, the blend of the members' fold-k models on every row: id, fold and CLASS_COLUMNS."""
    blend = saved_blend(out_dir)
    members = {name: per_fold_predictions(model_dir(out_dir, name), rows) for name in blend.used}
    folds = sorted({int(fold) for frame in members.values() for fold in frame["fold"].unique()})
    ids = rows["id"].to_numpy()
    frames = []
    for fold in folds:
        probas = {}
        for name, frame in members.items():
            mine = frame[frame["fold"] == fold].set_index("id")[list(CLASS_COLUMNS)]
            # NaN where this member has no fold-k model: the blend pools the others there.
            probas[name] = mine.reindex(ids).to_numpy(np.float64)
        proba = blend.predict(probas)
        frames.append(pd.DataFrame({"id": ids, "fold": fold, **{c: proba[:, k] for k, c in enumerate(CLASS_COLUMNS)}}))
    return pd.concat(frames, ignore_index=True)


def write_ensemble_teacher(out_dir: Path | str, rows: pd.DataFrame, path: Path | str | None = None) -> Path:
    """Write the ensemble's per-fold teacher file (default: ensemble/teacher_folds.csv, what teacher="ensemble" reads)."""
    target = Path(path) if path is not None else model_dir(out_dir, SUBMISSION_NOTEBOOK) / ENSEMBLE_TEACHER_FILE
    return write_teacher_file(ensemble_fold_predictions(out_dir, rows), target)


__all__ = ["ensemble_fold_predictions", "saved_blend", "write_ensemble_teacher"]
