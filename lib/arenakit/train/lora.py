"""The LoRA classifier's run: one code path for the deberta_lora notebook and `python -m arenakit.train lora`.

    run = LoRATrainingRun(data_dir, out_dir, {"backbone": "minilm", "folds_to_train": [0]}, source="command line -p")
    run.train()          # cross-validation on the run's shared folds, chosen folds only; resumable
    run.plots()          # training curves, confusion matrix, reliability, loss by length (saved as PNG)
    run.save()           # deberta_lora/{oof.csv, test.csv, metrics.json, folds/fold_k}
    run.time_table()     # where the time went: load, tokenize, train, validate, predict, save

Settings are the LoRA estimators' (arenakit.models.lora.settings) plus folds_to_train, profile and
architecture, resolved in one place (arenakit.models.lora.profiles.resolve_settings: given beats
the profile, which beats the default; every name and value checked). Under torchrun / accelerate launch
every process runs this same code and trains together with the others; process 0 alone writes
files and shows progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from arenakit.core.distributed import is_main_process, launched_processes, main_process_first
from arenakit.core.phases import RUN_PHASES, timed
from arenakit.core.settings import check_settings
from arenakit.data import resolve_data_dir
from arenakit.data.competition import load_competition
from arenakit.data.folds import shared_folds
from arenakit.evaluation.metrics import per_class_table
from arenakit.models.lora.architectures import estimator_for
from arenakit.models.lora.predict import available_devices
from arenakit.models.lora.profiles import NOTEBOOK, model_settings, pick_settings, resolve_settings
from arenakit.pipeline.cv import CVRun, cross_validate
from arenakit.pipeline.notebooks import DISTILL_PARAMETERS
from arenakit.pipeline.teachers import load_teacher, read_extra_rows, training_rows

# The run folder's subfolder for this model: the notebook's name, which the ensemble and the build look for.
MODEL_NAME = "deberta_lora"


class LoRATrainingRun:
    """The deberta_lora notebook's work: load, cross-validate the chosen folds, report, save."""

    def __init__(
        self,
        data_dir: Path | str | None,
        out_dir: Path | str,
        parameters: Mapping,
        n_folds: int = 5,
        seed: int = 42,
        source: str = NOTEBOOK,
        teacher: str | None = None,
        extra_data=None,
    ):
        """parameters: the settings given (a notebook passes its globals(): the LoRA settings among them
        are taken); source: where they came from, named in errors. teacher and extra_data: distillation
        (arenakit.pipeline.teachers.load_teacher's spec; files of extra rows, arenakit.data.extra)."""
        RUN_PHASES.reset()
        # Settings first: a wrong one stops the run before any data is read.
        given = pick_settings(parameters) if source == NOTEBOOK else dict(parameters)
        check_settings({"teacher": teacher, "extra_data": extra_data}, DISTILL_PARAMETERS, source)
        self.settings = resolve_settings(given, source)
        settings = model_settings(self.settings)
        if not is_main_process():  # one set of progress bars: process 0's
            settings["progress"] = False
        self.model = estimator_for(self.settings["architecture"]).from_settings(settings)
        self.out_dir = Path(out_dir)
        self.model_dir = self.out_dir / MODEL_NAME
        with timed("load"), main_process_first():  # process 0 writes the sample and the folds, the others read them
            self.data_dir = resolve_data_dir(data_dir, self.out_dir)
            competition = load_competition(self.data_dir)
            self.train_frame, self.test_frame = competition.train, competition.test
            self.folds = shared_folds(self.out_dir, self.train_frame, n_folds=n_folds, seed=seed)
            self.extra, self.extra_report = read_extra_rows(extra_data, self.train_frame, self.test_frame)
            self.teacher = load_teacher(teacher, self.out_dir, training_rows(self.train_frame, self.extra))
        self.n_folds = n_folds
        self.result: CVRun | None = None

    def describe(self) -> pd.DataFrame:
        """What runs where (printed), and the settings as a table."""
        device = self.settings.get("device", "auto")
        processes = launched_processes()
        spread = f"  processes: {processes} (one per device)" if processes > 1 else ""
        print(
            f"data: {self.data_dir}  train rows: {len(self.train_frame)}  test rows: {len(self.test_frame)}  "
            f"folds: {self.n_folds}\ndevices: {', '.join(available_devices(device))}  "
            f"profile: {self.settings['profile']}{spread}"
        )
        return pd.Series(self.settings, name="setting").to_frame()

    def token_lengths(self) -> pd.Series:
        """Tokens of every training row as the model reads them (against max_length; siamese: its longer side)."""
        return pd.Series(self.model.model_inputs(self.train_frame).lengths, name="tokens per row")

    def train(self) -> CVRun:
        """Cross-validate the chosen folds; finished folds are reused and an interrupted one resumes."""
        self.result = cross_validate(
            self.model,
            self.train_frame,
            self.folds,
            test=self.test_frame,
            name=MODEL_NAME,
            only_folds=self.settings["folds_to_train"],
            fold_dir=self.model_dir / "folds",
            progress=self.model.runtime.progress,
            teacher=self.teacher,
            extra=self.extra,
        )
        self.result.metrics["training"] = self.histories()
        if self.extra_report is not None:
            self.result.metrics["extra_data"] = self.extra_report.to_dict()
        self.result.record_swap_asymmetry(self.train_frame, self.folds)
        return self.result

    def _trained(self) -> CVRun:
        if self.result is None:
            raise RuntimeError("call train() first")
        return self.result

    def summary(self) -> str:
        run = self._trained()
        trainable, total = run.ensemble.models[0].trainable_parameters()
        return (
            f"{run.summary()}\nout-of-fold rows: {run.metrics['oof_rows']} of {len(self.train_frame)} "
            f"(folds {run.metrics['folds_trained']})\n"
            f"trainable parameters: {trainable:,} of {total:,} ({trainable / total:.2%}): adapters and head\n"
            f"mean |P - swapped P| of one-order predictions on held-out rows: {run.metrics['swap_asymmetry']:.4f}"
        )

    def histories(self) -> dict[str, list[dict]]:
        run = self._trained()
        return {f"fold {fold}": model.history_ for fold, model in zip(run.ensemble.fold_ids, run.ensemble.models)}

    def history_table(self) -> pd.DataFrame:
        """One row per validation of each fold: epoch, step, train loss, validation log loss and accuracy."""
        return pd.DataFrame(
            [dict(fold=fold, **record) for fold, history in self.histories().items() for record in history]
        )

    def per_class_table(self) -> pd.DataFrame:
        run = self._trained()
        rows = run.rows()
        return per_class_table(self.train_frame["label"].to_numpy()[rows], run.oof[rows])

    def plots(self) -> dict:
        """The report's figures, saved as PNG in the model's plots folder (process 0; the others get none)."""
        from arenakit.evaluation.plots import plot_training_curves

        run = self._trained()
        if not is_main_process():
            return {}
        with timed("save"):
            figures = run.plots(self.train_frame, self.out_dir)
            figures["training"] = plot_training_curves(
                self.histories(), path=self.model_dir / "plots" / "training_curves.png", title=f"{MODEL_NAME}: training"
            )
        return figures

    def save(self) -> Path:
        """oof.csv, test.csv, metrics.json and the fold models (process 0 writes)."""
        return self._trained().save(self.out_dir, self.train_frame, self.test_frame)

    def time_table(self) -> pd.DataFrame:
        """Seconds per phase of this run (this process's)."""
        return RUN_PHASES.table()

    def run_all(self) -> Path:
        """Everything the notebook does, in its order, with the figures closed: the training command's path."""
        import matplotlib.pyplot as plt

        if is_main_process():
            print(self.describe().to_string())
        self.train()
        figures = self.plots()
        plt.close("all")
        folder = self.save()
        if is_main_process():
            print(self.summary())
            print(self.per_class_table().to_string())
            print(f"\nartifacts: {folder}  ({len(figures)} figures in {self.model_dir / 'plots'})")
            print("\nwhere the time went (process 0):")
            print(self.time_table().to_string())
        return folder
