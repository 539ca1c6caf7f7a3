"""arenakit: from the LLM Classification Finetuning data to a scored Kaggle submission.

The library behind the kit's notebooks: the data layer, folds, featurizers, models with a
scikit-learn interface, metrics and reports, and the submission writer.
"""

__version__ = "0.1.0"

__all__ = ["CLASS_COLUMNS", "N_CLASSES", "__version__"]


def __getattr__(name: str):
    """CLASS_COLUMNS and N_CLASSES, read from arenakit.core.schema when first named.

    Importing arenakit alone loads nothing else (arenakit.core needs numpy and pandas): the wheel
    bundle's check reads __version__ in a venv where the dependencies are not installed yet.
    """
    if name in ("CLASS_COLUMNS", "N_CLASSES"):
        from arenakit.core import schema

        return getattr(schema, name)
    raise AttributeError(f"module 'arenakit' has no attribute {name!r}")
