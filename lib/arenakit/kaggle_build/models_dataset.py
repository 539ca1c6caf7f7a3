"""The trained-models dataset: model folders of a run trained anywhere (your own GPUs), checked, for Kaggle.

    run = check_run(Path("build/run"), ["deberta_lora"])   # every model folder when no names are given
    stage_models(run, folder)   # folder/<model>/..., folder/folds.csv, folder/folds.json, folder/MODELS_MARKER

Only what the kit wrote is copied: the files a model folder's completion record (complete.json,
arenakit.core.completion) vouches for (oof.csv, test.csv, metrics.json, each fold's files), the
record itself, and the PNG plots. Anything else in a model folder (resumable training state under
checkpoints/, a file dropped into a fold folder) is left out and listed with its size: the kit
knows which files it needs, so a stray one need not stop the build, but a 150 MB surprise must
be seen. A link anywhere in a model folder, or a folds file that is one, is refused, naming the
link and its target (arenakit.kaggle_build.safe_copy). Uploaded with `--dir-mode zip`, each model folder
becomes one zip that Kaggle unpacks under the dataset's mount point, where the submission
notebook finds it by its files, as it finds a training kernel's output.

A run folder is refused, naming the file and what to do, when a chosen model folder is
incomplete (no fold models, a fold without its model.json, metrics.json naming other folds than
those saved, a save that did not finish, a file that differs from its record, no record at all
because an older kit saved it) or when its out-of-fold ids are not exactly the rows of its trained folds in the
run's folds.csv: the ensemble's blend weights would then be fitted on predictions that are not
out-of-fold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from arenakit.core import (
    COMPLETE_FILE,
    FOLDS_DIR,
    METRICS_FILE,
    OOF_FILE,
    PLOTS_DIR,
    ArtifactError,
    check_complete,
    examples,
    load_metrics,
    load_prediction_frame,
    write_json,
)
from arenakit.data import FOLDS_FILE, FOLDS_META_FILE
from arenakit.ensemble import is_model_folder, saved_folds
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.built import MODELS_MARKER
from arenakit.kaggle_build.safe_copy import check_inside, copy_file, regular_files, size_of


@dataclass(frozen=True)
class RunModels:
    run_dir: Path
    models: dict  # name -> {"folds_trained": [...], "oof_rows": int, "oof_log_loss": float | None}
    folds_meta: dict  # the run's folds.json
    files: dict = field(default_factory=dict)  # name -> the files (relative) its completion record vouches for

    @property
    def names(self) -> list[str]:
        return list(self.models)


def model_names(run_dir: Path) -> list[str]:
    """Every model folder of a run folder, by name."""
    return sorted(p.name for p in Path(run_dir).iterdir() if p.is_dir() and is_model_folder(p))


def check_model(folder: Path, folds: pd.DataFrame, folds_path: Path) -> dict:
    """One model folder's summary; BuildError when it is incomplete or its oof does not match the folds file."""
    if not is_model_folder(folder):
        raise BuildError(
            f"{folder}: not a complete model folder (it needs {OOF_FILE}, {METRICS_FILE} and {FOLDS_DIR}/); "
            f"train it first, or name only the models that finished"
        )
    try:
        metrics = load_metrics(folder)
        oof = load_prediction_frame(folder / OOF_FILE)
    except (OSError, ValueError) as error:
        raise BuildError(f"{folder}: artifacts do not read ({error}); train that model again") from None
    try:
        trained = saved_folds(folder, metrics)
    except (ArtifactError, FileNotFoundError) as error:
        raise BuildError(f"{error}; or name only the models to carry") from None
    expected = pd.Index(folds["id"][folds["fold"].isin(trained)])
    missing, extra = expected.difference(oof.index), oof.index.difference(expected)
    if len(missing) or len(extra):
        raise BuildError(
            f"{folder / OOF_FILE} does not match {folds_path}: {len(missing)} row(s) of folds {trained} have no "
            f"out-of-fold prediction (e.g. ids {examples(missing)}) and {len(extra)} prediction(s) are for ids "
            f"that are not rows of those folds (e.g. {examples(extra)}). The model was trained with other folds "
            f"or other data: train it again in this run folder, so it reads this folds.csv"
        )
    return {"folds_trained": trained, "oof_rows": len(oof), "oof_log_loss": metrics.get("oof_log_loss")}


def vouched_files(folder: Path) -> list[str]:
    """The files a whole model folder's record vouches for; BuildError when there is no record or it disagrees."""
    regular_files(folder)  # a link anywhere in the folder is refused before anything is read through it
    try:
        vouched = check_complete(folder)
    except ArtifactError as error:
        raise BuildError(f"{error}") from None
    if vouched is None:
        raise BuildError(
            f"{folder}: no {COMPLETE_FILE}, so nothing says which of its files the kit wrote and that its save "
            f"finished (an older arenakit saved it): run its notebook again with this kit (finished fold models are "
            f"reused), or leave it out by naming the models to carry"
        )
    return vouched


def check_run(run_dir: Path, names: list[str] | None = None) -> RunModels:
    """The chosen (default: every) model folders of a run folder, checked against its folds file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BuildError(f"--models {run_dir}: no such folder; give the run folder the training wrote (--out)")
    folds_path, meta_path = run_dir / FOLDS_FILE, run_dir / FOLDS_META_FILE
    if not folds_path.is_file() or not meta_path.is_file():
        raise BuildError(
            f"{run_dir}: no {FOLDS_FILE} and {FOLDS_META_FILE}; every model of a run shares them (arenakit.data.folds), "
            f"so give the run folder itself, not a model folder"
        )
    folds = pd.read_csv(folds_path)
    if list(folds.columns[:2]) != ["id", "fold"]:
        raise BuildError(
            f"{folds_path}: expected the columns id, fold (arenakit.data.folds); it has {list(folds.columns)}"
        )
    names = list(names) if names else model_names(run_dir)
    if not names:
        raise BuildError(
            f"{run_dir}: no model folder (a folder holding {OOF_FILE}, {METRICS_FILE} and {FOLDS_DIR}/); "
            f"train a model into it first"
        )
    for path in (folds_path, meta_path):
        check_inside(path, run_dir)
    models = {name: check_model(run_dir / name, folds, folds_path) for name in names}
    files = {name: vouched_files(run_dir / name) for name in names}
    return RunModels(run_dir, models, json.loads(meta_path.read_text()), files)


def stage_models(run: RunModels, into: Path) -> list[str]:
    """Copy what the kit wrote of each checked model and the folds files into `into`, and write the marker;
    returns notes, one per thing left out, with its size."""
    notes = []
    for name in run.names:
        source, target = run.run_dir / name, Path(into) / name
        wanted = {*run.files[name], COMPLETE_FILE}
        left_out = set()
        for path in regular_files(source):
            relative = path.relative_to(source)
            if relative.as_posix() in wanted or _is_plot(relative):
                copy_file(path, target / relative, source)
            else:
                left_out.add(_left_out_entry(source, relative, wanted))
        notes += [
            f"{path} left out ({size_of(path):,} bytes): not a file the model's save wrote (training state, a stray file)"
            for path in sorted(left_out)
        ]
    for name in (FOLDS_FILE, FOLDS_META_FILE):
        copy_file(run.run_dir / name, Path(into) / name, run.run_dir)
    write_json(Path(into) / MODELS_MARKER, {"models": run.models, "folds": run.folds_meta}, indent=2)
    return notes


def _left_out_entry(source: Path, relative: Path, wanted: set[str]) -> Path:
    """What a note names: a top folder nothing is copied from (checkpoints/) as a whole, else the file."""
    top = relative.parts[0]
    copied_from = len(relative.parts) == 1 or top == PLOTS_DIR or any(name.startswith(f"{top}/") for name in wanted)
    return source / relative if copied_from else source / top


def _is_plot(relative: Path) -> bool:
    """A figure the CV runner saved (plots/*.png): not in the completion record, since plots come before the save."""
    return len(relative.parts) == 2 and relative.parts[0] == PLOTS_DIR and relative.suffix == ".png"
