"""Teachers that do not leak: per-fold teacher probabilities for a student's cross-validation (issue 22).

    teacher = load_teacher("minilm_lgbm", out_dir, rows)            # a model of the run: its fold models predict
    teacher = load_teacher("ensemble", out_dir, rows)               # the run's ensemble, per fold
    teacher = load_teacher("teachers/llama70b.csv", out_dir, rows)  # predictions made elsewhere
    run = cross_validate(student, train, folds, teacher=teacher, extra=extra_rows)

A teacher's out-of-fold prediction for row j came from a model that saw every other fold: a
student fold k trained on those has seen fold k's labels through the teacher, and its OOF score
reads optimistic. So, as the LMSYS 2024 winner did, student fold k learns from teacher fold k:
the teacher's fold-k model's predictions on the student's fold-k training rows (and extra rows).
That needs the same folds for teacher and student: the run's shared folds (folds.csv).

Teacher predictions are a frame of id, fold and the three CLASS_COLUMNS: one set per fold
("per_fold"), or one prediction per row from the fold that held it out ("oof_only", accepted
with a bold notice that the student's OOF reads optimistic).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.artifacts import model_dir
from arenakit.core.completion import file_hashes
from arenakit.core.distributed import only_main_process_writes
from arenakit.core.errors import examples
from arenakit.core.notices import notice
from arenakit.core.schema import CLASS_COLUMNS, TEACHER_COLUMNS, WEIGHT_COLUMN
from arenakit.data.extra import extra_rows_for_fold, read_extra_data
from arenakit.data.teacher_file import read_teacher_file, teacher_file_is_oof_only, write_teacher_file
from arenakit.models.base import FOLD_PREFIX, MODEL_FILE, fold_folders
from arenakit.pipeline.fold_predictions import per_fold_predictions

PER_FOLD, OOF_ONLY = "per_fold", "oof_only"
SOURCES = ("model", "ensemble", "file")
# The run folder's cache of a model-of-the-run teacher's per-fold predictions.
TEACHER_CACHE_DIR = "teachers"
# What the ensemble package writes for teacher="ensemble" (arenakit.ensemble.teacher).
ENSEMBLE_NAME = "ensemble"
ENSEMBLE_TEACHER_FILE = "teacher_folds.csv"


def oof_only_warning(name: str) -> str:
    return (
        f"Teacher {name} gives one prediction per row, from the fold that held it out (OOF only): each of them came "
        "from a model that saw every other fold, so the student's fold k learns fold k's labels through the "
        "teacher and its OUT-OF-FOLD SCORE READS OPTIMISTIC. Use per-fold teacher predictions for an honest score."
    )


@dataclass(frozen=True)
class Teacher:
    """A teacher's predictions (id, fold, CLASS_COLUMNS) and what the student records about it."""

    name: str
    source: str  # one of SOURCES
    predictions: pd.DataFrame = field(repr=False)
    scheme: str = PER_FOLD  # PER_FOLD or OOF_ONLY

    def __post_init__(self):
        if self.source not in SOURCES or self.scheme not in (PER_FOLD, OOF_ONLY):
            raise ValueError(f"Teacher source {self.source!r} / scheme {self.scheme!r}: sources {SOURCES}")
        missing = [column for column in ("id", "fold", *CLASS_COLUMNS) if column not in self.predictions.columns]
        if missing:
            raise ValueError(f"teacher {self.name}: its predictions lack the column(s) {', '.join(missing)}")

    def describe(self, model) -> dict:
        """What the student's metrics.json and model.json record: name, source, fold scheme, weight, temperature."""
        settings = model.settings()
        return {
            "name": self.name,
            "source": self.source,
            "fold_scheme": self.scheme,
            "distill_weight": settings.get("distill_weight"),
            "distill_temperature": settings.get("distill_temperature"),
        }

    def check_folds(self, folds) -> None:
        """Refuse student folds a per-fold teacher has no predictions for (they would silently train on labels)."""
        if self.scheme == OOF_ONLY:
            return
        missing = sorted(set(int(k) for k in folds) - set(int(k) for k in self.predictions["fold"].unique()))
        if missing:
            raise ValueError(
                f"teacher {self.name} has no predictions for fold(s) {', '.join(map(str, missing))} (it has "
                f"{', '.join(map(str, sorted(self.predictions['fold'].unique())))}): train those folds of the teacher "
                "(or write its file with them), or train only the student folds it covers (only_folds / --folds)"
            )

    def for_fold(self, fold: int, ids) -> np.ndarray:
        """(n, 3): the teacher's probabilities for these rows when student fold `fold` trains; NaN where it has none."""
        table = self.predictions if self.scheme == OOF_ONLY else self.predictions[self.predictions["fold"] == fold]
        table = table.drop_duplicates("id", keep="last").set_index("id")[list(CLASS_COLUMNS)]
        return table.reindex(pd.Index(ids)).to_numpy(np.float64)


def with_teacher(frame: pd.DataFrame, teacher: Teacher | None, fold: int) -> pd.DataFrame:
    """The fit frame of student fold `fold` with the teacher's probabilities in TEACHER_COLUMNS."""
    if teacher is None:
        return frame
    proba = teacher.for_fold(fold, frame["id"].to_numpy())
    return frame.assign(**{column: proba[:, k] for k, column in enumerate(TEACHER_COLUMNS)})


def with_extra_rows(train: pd.DataFrame, folds: np.ndarray, fold: int, extra: pd.DataFrame | None) -> pd.DataFrame:
    """Student fold `fold`'s training rows, then the extra rows it may train on (never out-of-fold, never scored).

    An extra row sharing a prompt with the fold's held-out rows stays out (arenakit.data.extra.extra_rows_for_fold).
    """
    fit_frame = train[np.asarray(folds) != fold].reset_index(drop=True)
    if extra is None or not len(extra):
        return fit_frame
    clash = np.intersect1d(train["id"].to_numpy(), extra["id"].to_numpy())
    if len(clash):
        raise ValueError(
            f"{len(clash)} extra row id(s) are also train row ids: {examples(clash)}; extra rows need ids of their own"
        )
    kept = extra[extra_rows_for_fold(extra, train, folds, fold)] if "prompt_key" in extra.columns else extra
    columns = [*train.columns, *([WEIGHT_COLUMN] if WEIGHT_COLUMN in extra.columns else [])]
    both = pd.concat([fit_frame, kept[[column for column in columns if column in kept.columns]]], ignore_index=True)
    both[WEIGHT_COLUMN] = both[WEIGHT_COLUMN].fillna(1.0) if WEIGHT_COLUMN in both else 1.0
    return both


def targets_digest(fit_frame: pd.DataFrame) -> str:
    """What a fold's key adds for its soft targets: the teacher's probabilities and the row weights ("" when none)."""
    columns = [column for column in (*TEACHER_COLUMNS, WEIGHT_COLUMN) if column in fit_frame.columns]
    if not columns:
        return ""
    values = fit_frame[columns].to_numpy(np.float64)
    return hashlib.sha256(",".join(columns).encode() + np.round(values, 10).tobytes()).hexdigest()[:16]


def read_extra_rows(extra_data, train: pd.DataFrame, test: pd.DataFrame | None):
    """(extra rows, report) from the extra-data files (arenakit.data.extra); (None, None) when none are given.

    extra_data: a path, a list of paths, or {path: weight} (a source's rows weigh that much in training).
    """
    if not extra_data:
        return None, None
    if not isinstance(extra_data, (str, Path, list, tuple, Mapping)):
        raise ValueError(
            f"extra_data={extra_data!r}: give a file, a list of files, or {{file: weight}} (a source's row weight)"
        )
    if isinstance(extra_data, Mapping):
        paths = [Path(path) for path in extra_data]
        weights = {path.stem: weight for path, weight in zip(paths, extra_data.values())}
    else:
        paths = [Path(extra_data)] if isinstance(extra_data, (str, Path)) else [Path(path) for path in extra_data]
        weights = None
    return read_extra_data(paths, train, test, weights)


def training_rows(train: pd.DataFrame, extra: pd.DataFrame | None) -> pd.DataFrame:
    """Every row a student may train on: what a teacher must predict."""
    return train if extra is None else pd.concat([train, extra], ignore_index=True)


# -- the sources ----------------------------------------------------------------------------------


def load_teacher(spec: str | None, out_dir: Path | str, rows: pd.DataFrame) -> Teacher | None:
    """The teacher `spec` names, with predictions for `rows` (the train rows and any extra rows).

    spec: None or "" (no teacher); "ensemble" (the run's ensemble: arenakit.ensemble.teacher wrote
    its per-fold file); the name of a model folder of the run (its fold models predict; cached);
    or the path of a teacher file (id, fold and the three class columns).
    """
    if not spec:
        return None
    out_dir = Path(out_dir)
    if spec == ENSEMBLE_NAME:
        path = model_dir(out_dir, ENSEMBLE_NAME) / ENSEMBLE_TEACHER_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"teacher='ensemble': {path} not found. Run the ensemble notebook on this run folder first, then "
                "arenakit.ensemble.write_ensemble_teacher(out_dir, rows), which writes the blend's per-fold predictions"
            )
        return _from_file(path, ENSEMBLE_NAME, "ensemble")
    folder = model_dir(out_dir, spec)
    if (folder / "folds").is_dir():
        return model_teacher(spec, folder, rows, out_dir / TEACHER_CACHE_DIR)
    path = Path(spec)
    if path.is_file():
        return _from_file(path, path.stem, "file")
    raise FileNotFoundError(
        f"teacher={spec!r}: neither a model folder of the run ({folder} has no folds/) nor a teacher file; give "
        "'ensemble', the name of a model trained in this run folder (e.g. 'minilm_lgbm'), or a CSV of id, fold, "
        f"{', '.join(CLASS_COLUMNS)}"
    )


def _from_file(path: Path, name: str, source: str) -> Teacher:
    predictions = read_teacher_file(path)
    scheme = OOF_ONLY if teacher_file_is_oof_only(predictions) else PER_FOLD
    return Teacher(name, source, predictions, scheme)


def model_teacher(name: str, folder: Path, rows: pd.DataFrame, cache_dir: Path) -> Teacher:
    """A model of the run as teacher: each fold model predicts every row; cached by fold models, ids and rows' text."""
    cache = cache_dir / f"{name}-{_teacher_key(folder, rows)}.csv"
    if cache.is_file():
        return Teacher(name, "model", read_teacher_file(cache), PER_FOLD)
    predictions = per_fold_predictions(folder, rows)
    with only_main_process_writes() as writer:
        if writer:
            write_teacher_file(predictions, cache)
    return Teacher(name, "model", predictions, PER_FOLD)


def _teacher_key(folder: Path, rows: pd.DataFrame) -> str:
    """Changes when a fold model or the rows change (a retrained teacher, other extra rows)."""
    digest = hashlib.sha256()
    for fold, path in fold_folders(folder / "folds").items():
        hashes = file_hashes(path, [path / MODEL_FILE])
        digest.update(f"{FOLD_PREFIX}{fold}".encode() + str(sorted(hashes.items())).encode())
    texts = pd.util.hash_pandas_object(rows[["id", "prompt", "response_a", "response_b"]], index=False)
    digest.update(texts.to_numpy().tobytes())
    return digest.hexdigest()[:16]


def announce(teacher: Teacher | None) -> str | None:
    """The bold notice an OOF-only teacher gets (also returned, for the record); None otherwise."""
    if teacher is None or teacher.scheme != OOF_ONLY:
        return None
    return notice(oof_only_warning(teacher.name))


__all__ = [
    "ENSEMBLE_TEACHER_FILE",
    "OOF_ONLY",
    "PER_FOLD",
    "Teacher",
    "announce",
    "load_teacher",
    "model_teacher",
    "oof_only_warning",
    "read_extra_rows",
    "targets_digest",
    "training_rows",
    "with_extra_rows",
    "with_teacher",
]
