"""The kit's models. Each follows scikit-learn's conventions (parameters in __init__, fit returns
self, learned state ends in "_", predict_proba returns (n, 3) in CLASS_COLUMNS order) and adds
save(dir) / load(dir), so the CV runner, the ensemble and the tests treat them all the same way.

base      ArenaModel, FoldEnsemble, save/load without pickle, register_model_class
protocol  what generic code may know about a model: symmetry, cheaper inference steps, its cache
distill   soft targets: a teacher's probabilities and row weights on the fit frame, for every trainable model
baseline, minilm_lgbm   the model classes BaselineModel and MiniLMLightGBMModel
lora      the LoRA family: CrossEncoderClassifier (an encoder or a decoder backbone) and SiameseClassifier
          on one core, and their parts (inputs, backbone, batching, training, inference)
The model classes are imported when first named (the LoRA ones load torch, peft and transformers).
"""

import importlib

from arenakit.models.base import (
    MODEL_CLASSES,
    MODEL_FILE,
    ArenaModel,
    FoldEnsemble,
    load_model,
    register_model_class,
)
from arenakit.models.protocol import STEP_KINDS, CacheInfo, CheaperStep

__all__ = [
    "MODEL_FILE",
    "STEP_KINDS",
    "ArenaModel",
    "BaselineModel",
    "CacheInfo",
    "CheaperStep",
    "FoldEnsemble",
    "CrossEncoderClassifier",
    "MiniLMLightGBMModel",
    "SiameseClassifier",
    "load_model",
    "register_model_class",
]


def __getattr__(name: str):
    """The model classes, imported on first use (arenakit.models.CrossEncoderClassifier)."""
    if name in MODEL_CLASSES:
        return getattr(importlib.import_module(MODEL_CLASSES[name]), name)
    raise AttributeError(f"module 'arenakit.models' has no attribute {name!r}")
