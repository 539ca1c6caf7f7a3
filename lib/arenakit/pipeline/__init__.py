"""The notebooks as one pipeline, and the cross-validation run every model notebook makes.

notebooks  their order, the submission notebook and the kernel they run on
cv         cross_validate: fold models, out-of-fold predictions, metrics, saved per the artifacts contract
model_folder      a trained model's folder checked: marker files, fold models against metrics.json
fold_predictions  per_fold_predictions: every fold model of a model folder predicting the same rows (teachers)
teachers   per-fold teachers for distillation (a model of the run, the ensemble's file, a teacher file), extra rows
"""

from arenakit.pipeline.cv import CVRun, cross_validate
from arenakit.pipeline.fold_predictions import PREDICTION_COLUMNS, per_fold_predictions
from arenakit.pipeline.model_folder import is_model_folder, saved_folds
from arenakit.pipeline.notebooks import KERNEL, PIPELINE, SUBMISSION_NOTEBOOK, available_notebooks, pipeline_models
from arenakit.pipeline.teachers import Teacher, load_teacher

__all__ = [
    "KERNEL",
    "PIPELINE",
    "PREDICTION_COLUMNS",
    "SUBMISSION_NOTEBOOK",
    "CVRun",
    "Teacher",
    "available_notebooks",
    "cross_validate",
    "is_model_folder",
    "load_teacher",
    "per_fold_predictions",
    "pipeline_models",
    "saved_folds",
]
