"""A teacher file from a trained run: every fold model of one model predicting every train row (and extra row).

    python -m arenakit.train teacher-predictions --run-dir build/run --model deberta_lora --out teacher.csv
    python -m arenakit.train teacher-predictions --run-dir build/run --model deberta_lora \\
        --extra-data lmsys-33k.csv --out teacher.csv -p max_batch_tokens=16384
    torchrun --nproc_per_node 4 -m arenakit.train teacher-predictions --run-dir build/run --model deberta_lora --out teacher.csv

The file holds one set of predictions per fold (arenakit.data.teacher_file): fold k's rows are the
fold-k model's predictions, so a student's fold k learns only from a teacher that never saw fold k's
labels. The run folder is the one `python -m arenakit.train lora` (or a notebook) trained: its
folds.csv must be the folds of this train.csv, and the model's oof.csv must hold only its ids. Under
torchrun each process predicts its share of the rows; process 0 writes the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from arenakit.core.artifacts import OOF_FILE, load_prediction_frame, model_dir
from arenakit.core.distributed import is_main_process, main_process_first, only_main_process_writes
from arenakit.core.errors import ArenaDataError, counted
from arenakit.core.schema import TRAIN_FILE
from arenakit.data import resolve_data_dir
from arenakit.data.competition import load_competition
from arenakit.data.extra import read_extra_data
from arenakit.data.folds import FOLDS_FILE, load_folds
from arenakit.data.teacher_file import write_teacher_file
from arenakit.models.base import MODEL_FILE, model_class, read_record
from arenakit.pipeline.fold_predictions import checked_fold_folders, per_fold_predictions


def inference_overrides(folder: Path, overrides: Mapping) -> dict:
    """The -p settings, checked to be inference settings of the saved model's class (training ones would not apply)."""
    if not overrides:
        return {}
    cls = model_class(read_record(folder)["class"], folder / MODEL_FILE)
    refused = sorted(set(overrides) - set(cls.inference_params))
    if refused:
        raise ValueError(
            f"-p {', '.join(refused)}: not an inference setting of {cls.__name__}; the ones a saved model takes "
            f"anew are {', '.join(sorted(cls.inference_params))}"
        )
    return dict(overrides)


def teacher_rows(run_dir: Path, model: str, data_dir, extra_data: Sequence[str] = ()) -> pd.DataFrame:
    """The rows a teacher predicts: every train row of the run's data, then the extra rows (if any)."""
    with main_process_first():  # the synthetic sample (no data folder) is written once
        competition = load_competition(resolve_data_dir(data_dir, run_dir))
    train = competition.train
    if not (run_dir / FOLDS_FILE).is_file():
        raise FileNotFoundError(
            f"{run_dir / FOLDS_FILE}: no folds in the run folder; pass the folder a run trained into"
        )
    try:  # the run's folds were made for this train.csv, so fold numbers mean the same rows
        load_folds(run_dir, train)
    except ArenaDataError as error:
        raise ArenaDataError(
            f"{run_dir / FOLDS_FILE} was made for other rows than the {len(train)} of "
            f"{competition.data_dir / TRAIN_FILE}, so its fold models were trained on other data: pass --data-dir "
            "with the competition folder the run was trained on"
        ) from error
    oof = load_prediction_frame(model_dir(run_dir, model) / OOF_FILE)
    foreign = oof.index.difference(pd.Index(train["id"]))
    if len(foreign):
        raise ArenaDataError(
            f"{model_dir(run_dir, model) / OOF_FILE} holds {counted(foreign, 'id(s) not in this train.csv')}: the "
            f"model was trained on other data; pass --data-dir with the data it was trained on"
        )
    if not extra_data:
        return train
    extra, report = read_extra_data(list(extra_data), train, competition.test)
    if is_main_process():
        print(report)
    return pd.concat([train, extra[list(train.columns)]], ignore_index=True)


def write_teacher_predictions(
    run_dir: Path | str,
    model: str,
    out: Path | str,
    data_dir: Path | str | None = None,
    extra_data: Sequence[str] = (),
    folds: list[int] | None = None,
    overrides: Mapping | None = None,
) -> pd.DataFrame:
    """Predict every row with each chosen fold model of run_dir/model and write the teacher file to out."""
    run_dir = Path(run_dir)
    folder = model_dir(run_dir, model)
    chosen = checked_fold_folders(folder, folds)  # a wrong folder or fold stops it before any data is read
    settings = inference_overrides(next(iter(chosen.values())), overrides or {})
    rows = teacher_rows(run_dir, model, data_dir, extra_data)
    predictions = per_fold_predictions(folder, rows, list(chosen), overrides=settings)
    with only_main_process_writes() as writer:
        if writer:
            write_teacher_file(predictions, out)
            print(
                f"teacher file {out}: {len(predictions)} predictions, folds {list(chosen)} x {len(rows)} rows "
                f"(train and extra), by {folder}"
            )
    return predictions
