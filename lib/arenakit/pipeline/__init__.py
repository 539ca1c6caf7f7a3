"""The notebooks as one pipeline, and the cross-validation run every model notebook makes.

notebooks  their order, the submission notebook and the kernel they run on
cv         cross_validate: fold models, out-of-fold predictions, metrics, saved per the artifacts contract
"""

from arenakit.pipeline.cv import CVRun, cross_validate
from arenakit.pipeline.notebooks import PIPELINE, SUBMISSION_NOTEBOOK, pipeline_models

__all__ = ["PIPELINE", "SUBMISSION_NOTEBOOK", "CVRun", "cross_validate", "pipeline_models"]
