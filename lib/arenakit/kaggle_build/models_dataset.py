"""The trained-models dataset: model folders of a run trained anywhere (your own GPUs), checked, for Kaggle.

    run = check_run(Path("build/run"), ["deberta_lora"])   # every model folder when no names are given
    stage_models(run, folder)   # folder/<model>/..., folder/folds.csv, folder/folds.json, folder/MODELS_MARKER

Only the artifacts contract (arenakit.core.artifacts) is copied: oof.csv, metrics.json, test.csv,
the fold models under folds/ and plots/. Resumable training state (checkpoints/) and anything
else a run leaves in a model folder stay out. Uploaded with `--dir-mode zip`, each model folder
becomes one zip that Kaggle unpacks under the dataset's mount point, where the submission
notebook finds it by its files, as it finds a training kernel's output.

A run folder is refused, naming the file and what to do, when a chosen model folder is
incomplete (no fold models, a fold without its model.json, metrics.json naming other folds than
those saved) or when its out-of-fold ids are not exactly the rows of its trained folds in the
run's folds.csv: the ensemble's blend weights would then be fitted on predictions that are not
out-of-fold.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from arenakit.core import FOLDS_DIR, METRICS_FILE, OOF_FILE, PLOTS_DIR, TEST_FILE, examples, load_prediction_frame
from arenakit.data import FOLDS_FILE, FOLDS_META_FILE
from arenakit.ensemble import is_model_folder
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.built import MODELS_MARKER
from arenakit.models import MODEL_FILE

CONTRACT_FILES = (OOF_FILE, METRICS_FILE, TEST_FILE)
CONTRACT_DIRS = (FOLDS_DIR, PLOTS_DIR)


@dataclass(frozen=True)
class RunModels:
    run_dir: Path
    models: dict  # name -> {"folds_trained": [...], "oof_rows": int, "oof_log_loss": float | None}
    folds_meta: dict  # the run's folds.json

    @property
    def names(self) -> list[str]:
        return list(self.models)


def model_names(run_dir: Path) -> list[str]:
    """Every model folder of a run folder, by name."""
    return sorted(p.name for p in Path(run_dir).iterdir() if p.is_dir() and is_model_folder(p))


def _trained_folds(folder: Path) -> list[int]:
    """The fold ids of folder/folds/fold_<k>/, each of which must hold a saved model."""
    folds, broken = [], []
    for fold_dir in sorted((folder / FOLDS_DIR).iterdir()):
        number = fold_dir.name.removeprefix("fold_")
        if not fold_dir.is_dir() or not fold_dir.name.startswith("fold_") or not number.isdigit():
            broken.append(f"{fold_dir.name} (not a fold_<k> folder)")
        elif not (fold_dir / MODEL_FILE).is_file():
            broken.append(f"{fold_dir.name} (no {MODEL_FILE}: its training did not finish)")
        else:
            folds.append(int(number))
    if broken or not folds:
        raise BuildError(
            f"{folder / FOLDS_DIR}: {', '.join(broken) if broken else 'no fold models'}; finish training that "
            f"model (its rerun resumes) or leave it out by naming the models to carry"
        )
    return sorted(folds)


def check_model(folder: Path, folds: pd.DataFrame, folds_path: Path) -> dict:
    """One model folder's summary; BuildError when it is incomplete or its oof does not match the folds file."""
    if not is_model_folder(folder):
        raise BuildError(
            f"{folder}: not a complete model folder (it needs {OOF_FILE}, {METRICS_FILE} and {FOLDS_DIR}/); "
            f"train it first, or name only the models that finished"
        )
    trained = _trained_folds(folder)
    try:
        metrics = json.loads((folder / METRICS_FILE).read_text())
        oof = load_prediction_frame(folder / OOF_FILE)
    except (OSError, ValueError) as error:
        raise BuildError(f"{folder}: artifacts do not read ({error}); train that model again") from None
    recorded = metrics.get("folds_trained")
    if recorded is not None and sorted(int(k) for k in recorded) != trained:
        raise BuildError(
            f"{folder / METRICS_FILE} names folds {sorted(recorded)} but {folder / FOLDS_DIR} holds folds {trained}: "
            f"the folder mixes two runs; delete the stray fold folders or train again into a fresh folder"
        )
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
    models = {name: check_model(run_dir / name, folds, folds_path) for name in names}
    return RunModels(run_dir, models, json.loads(meta_path.read_text()))


def stage_models(run: RunModels, into: Path) -> list[str]:
    """Copy the checked models and the folds files into `into`, and write the marker; returns notes."""
    notes = []
    for name in run.names:
        source, target = run.run_dir / name, Path(into) / name
        target.mkdir(parents=True)
        for entry in sorted(source.iterdir()):
            if entry.is_file() and entry.name in CONTRACT_FILES:
                shutil.copy2(entry, target / entry.name)
            elif entry.is_dir() and entry.name in CONTRACT_DIRS:
                shutil.copytree(entry, target / entry.name)
            else:
                notes.append(f"{entry} left out: not part of a model's artifacts (training state, a stray file)")
    for name in (FOLDS_FILE, FOLDS_META_FILE):
        shutil.copy2(run.run_dir / name, Path(into) / name)
    marker = {"models": run.models, "folds": run.folds_meta}
    (Path(into) / MODELS_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return notes
