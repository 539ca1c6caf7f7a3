"""The LoRA family's estimators by architecture name: what the notebook's and the command line's `architecture` picks.

estimator_for("siamese").from_settings({"backbone": "minilm", "max_length": 256})
"""

from __future__ import annotations

from arenakit.core.settings import SettingError
from arenakit.models.lora.classifier import LoRAClassifier
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from arenakit.models.lora.siamese_classifier import SiameseClassifier

ESTIMATORS: dict[str, type[LoRAClassifier]] = {
    estimator.architecture: estimator for estimator in (CrossEncoderClassifier, SiameseClassifier)
}


def estimator_for(architecture: str, source: str = "the settings") -> type[LoRAClassifier]:
    if architecture not in ESTIMATORS:
        raise SettingError(
            f"architecture={architecture!r} from {source}: architecture takes one of {', '.join(map(repr, ESTIMATORS))}"
        )
    return ESTIMATORS[architecture]
