"""The submission: every trained model found, timed, run on test.csv and blended.

run          EnsembleRun, the submission notebook's steps from finding models to submission.csv
members      each model's folder, out-of-fold predictions and fold models (left out with a reason)
model_folders  where a model's folder is: the run folder or a Kaggle input mount, by its files
blend        weights and temperatures fitted on out-of-fold predictions, partial models on their rows
choice       fitted blend, equal weights or the best single model, by scores on rows not fitted on
budget       timing on a slice, extrapolation, and the fallback order when over Kaggle's 9 hours
benchmark    the time inference on n rows would take on this machine
consistency  this run's test predictions against those the training runs stored
"""

from arenakit.ensemble.model_folders import is_model_folder, saved_folds
from arenakit.ensemble.run import EnsembleRun, NoUsableModel

__all__ = ["EnsembleRun", "NoUsableModel", "is_model_folder", "saved_folds"]
