"""Models saved before the LoRA family split: model.json without "format", class LoRAClassifierModel, flat parameters.

    load_model("old_run/deberta_lora/folds/fold_0")     # a CrossEncoderClassifier or SiameseClassifier

Until the split one estimator, LoRAClassifierModel, held the cross-encoder and the Siamese encoder
and saved its 37 parameters flat, `architecture` among them. Its folders load as the estimator
that architecture names now, with the same adapters (the saved network files did not change).
"""

from __future__ import annotations

from pathlib import Path

from arenakit.core.errors import ArtifactError
from arenakit.models.base import MODEL_FILE, ArenaModel, read_record
from arenakit.models.lora.architectures import ESTIMATORS, estimator_for


class LoRAClassifierModel(ArenaModel):
    """The reader of the old format: load returns the new estimator; nothing else is offered."""

    @classmethod
    def load(cls, folder: Path | str, **overrides) -> ArenaModel:
        folder = Path(folder)
        architecture = read_record(folder)["params"].get("architecture", "cross_encoder")
        if architecture not in ESTIMATORS:
            raise ArtifactError(f"{folder / MODEL_FILE}: architecture {architecture!r} is not one the kit knows")
        return estimator_for(architecture).load(folder, **overrides)

    def fit(self, frame, y=None):
        raise TypeError(
            "LoRAClassifierModel only reads models saved before the split: train a CrossEncoderClassifier or "
            "SiameseClassifier (arenakit.models.lora)"
        )
