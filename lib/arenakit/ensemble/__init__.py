"""The submission: every trained model found, timed, run on test.csv and blended.

run          EnsembleRun, the submission notebook's steps from finding models to submission.csv
members      each model's folder, out-of-fold predictions and fold models (left out with a reason)
model_folders  where a model's folder is: the run folder or a Kaggle input mount, by its files
blend        weights and temperatures fitted on out-of-fold predictions, partial models on their rows
choice       fitted blend, equal weights, the best single model or a cascade, by scores on rows not fitted on
cascade      later members only on the rows the blend before them is least sure of, routed by a fitted threshold
cascade_curve  log loss and time against the share routed to each later member (the notebook's plot)
budget       timing on a slice, extrapolation, and the fallback order when over Kaggle's 9 hours (a cascade stage
             before a model is dropped)
benchmark    the time inference on n rows would take on this machine
consistency  this run's test predictions against those the training runs stored
teacher      the chosen blend applied fold by fold: a per-fold teacher file for distilling a student
"""

from arenakit.ensemble.model_folders import is_model_folder, saved_folds
from arenakit.ensemble.run import EnsembleRun, NoUsableModel
from arenakit.ensemble.teacher import write_ensemble_teacher

__all__ = ["EnsembleRun", "NoUsableModel", "is_model_folder", "saved_folds", "write_ensemble_teacher"]
