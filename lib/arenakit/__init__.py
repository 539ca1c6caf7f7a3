"""arenakit: from the LLM Classification Finetuning data to a scored Kaggle submission.

The library behind the kit's notebooks: the data layer, folds, featurizers, models with a
scikit-learn interface, metrics and reports, and the submission writer.
"""

from arenakit.core.schema import CLASS_COLUMNS, N_CLASSES

__version__ = "0.1.0"

__all__ = ["CLASS_COLUMNS", "N_CLASSES", "__version__"]
