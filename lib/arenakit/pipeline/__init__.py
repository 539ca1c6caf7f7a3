"""The notebooks as one pipeline, and the cross-validation run every model notebook makes.

notebooks  their order, the submission notebook and the kernel they run on
cv         cross_validate: fold models, out-of-fold predictions, metrics, saved per the artifacts contract
"""

from arenakit.pipeline.cv import CVRun, cross_validate
from arenakit.pipeline.notebooks import KERNEL, PIPELINE, SUBMISSION_NOTEBOOK, available_notebooks, pipeline_models

__all__ = [
    "KERNEL",
    "PIPELINE",
    "SUBMISSION_NOTEBOOK",
    "CVRun",
    "available_notebooks",
    "cross_validate",
    "pipeline_models",
]
