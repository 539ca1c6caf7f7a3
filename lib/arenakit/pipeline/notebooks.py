"""The kit's notebooks as one pipeline: their order, the submission notebook and the kernel they run on.

The runner (papermill, locally), the ensemble (which models to blend) and the Kaggle build (one
kernel per notebook, the submission kernel last) all read these, so none imports another for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from arenakit.core.settings import Setting, anything, check_settings, integer, text

# Pipeline order: the ensemble reads every model's folder, so it runs last.
PIPELINE = ("baseline", "minilm_lgbm", "deberta_lora", "ensemble")
# The notebook that writes submission.csv; every other pipeline notebook trains a model of that name.
SUBMISSION_NOTEBOOK = "ensemble"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
# What every model notebook's run takes beside its model's settings (n_folds is checked against the
# data's prompts when the folds are made: arenakit.data.folds.check_fold_count).
RUN_SETTINGS: dict[str, Setting] = {
    "data_dir": text(optional=True, none="the Kaggle input, else the synthetic sample"),
    "out_dir": text(),
    "n_folds": integer(2),
    "seed": integer(0),
}
# Distillation (issue 22; arenakit.pipeline.teachers): where the soft targets come from, and extra rows.
DISTILL_PARAMETERS: dict[str, Setting] = {
    "teacher": text(optional=True, none="no teacher: the labels alone"),
    # A file, a list of files, or {file: weight}; read_extra_rows says what is wrong with anything else.
    "extra_data": anything(),
}
NOTEBOOK_SOURCE = "notebook parameter (the parameters cell, or -p / papermill)"


def check_parameters(namespace: Mapping, *declared: Mapping[str, Setting]) -> dict:
    """The notebook's parameters that these declarations name, each checked (SettingError naming it).

    A notebook calls it right after its parameters cell with globals(), so a wrong type or range
    stops it there, before any data is read, with the parameter's name, value and what it takes.
    """
    settings = {name: setting for group in declared for name, setting in group.items()}
    return check_settings({name: namespace[name] for name in settings if name in namespace}, settings, NOTEBOOK_SOURCE)


def pipeline_models() -> list[str]:
    """The models an ensemble blends by default: every pipeline notebook but the submission one."""
    return [name for name in PIPELINE if name != SUBMISSION_NOTEBOOK]


def available_notebooks(notebook_dir: Path) -> list[str]:
    """The pipeline's notebooks that exist in notebook_dir, in pipeline order."""
    return [name for name in PIPELINE if (Path(notebook_dir) / f"{name}.py").exists()]
