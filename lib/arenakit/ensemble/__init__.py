"""The submission: every trained model found, timed, run on test.csv and blended.

run          EnsembleRun, the submission notebook's steps from finding models to submission.csv
members      each model's folder, out-of-fold predictions and fold models (left out with a reason)
model_folders  where a model's folder is: the run folder or a Kaggle input mount, by its files
blend        weights and temperatures fitted on out-of-fold predictions
budget       timing on a slice, extrapolation, and the fallback order when over Kaggle's 9 hours
"""

from arenakit.ensemble.run import EnsembleRun, NoUsableModel

__all__ = ["EnsembleRun", "NoUsableModel"]
