"""The kit's notebooks as one pipeline: their order, the submission notebook and the kernel they run on.

The runner (papermill, locally), the ensemble (which models to blend) and the Kaggle build (one
kernel per notebook, the submission kernel last) all read these, so none imports another for them.
"""

from __future__ import annotations

from pathlib import Path

# Pipeline order: the ensemble reads every model's folder, so it runs last.
PIPELINE = ("baseline", "minilm_lgbm", "deberta_lora", "ensemble")
# The notebook that writes submission.csv; every other pipeline notebook trains a model of that name.
SUBMISSION_NOTEBOOK = "ensemble"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def pipeline_models() -> list[str]:
    """The models an ensemble blends by default: every pipeline notebook but the submission one."""
    return [name for name in PIPELINE if name != SUBMISSION_NOTEBOOK]


def available_notebooks(notebook_dir: Path) -> list[str]:
    """The pipeline's notebooks that exist in notebook_dir, in pipeline order."""
    return [name for name in PIPELINE if (Path(notebook_dir) / f"{name}.py").exists()]
