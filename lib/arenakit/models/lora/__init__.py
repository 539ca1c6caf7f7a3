"""Fine-tuning a Hugging Face sequence classifier with LoRA adapters: inputs, backbone, batching, training, inference.

The estimators that tie them together (fit / predict_proba / save / load), one per architecture
on one shared core (classifier.py): cross_encoder.CrossEncoderClassifier and
siamese_classifier.SiameseClassifier; their settings groups are in settings.py, the named presets
and the one settings resolution in profiles.py, the reader of models saved before the split in
legacy.py.
"""

# The parts, by module: the bench times them one by one (arenakit.bench.lora, .siamese, .decoder).
__all__ = [
    "architectures",
    "backbone",
    "batching",
    "checkpoint",
    "classifier",
    "cross_encoder",
    "inputs",
    "legacy",
    "optim",
    "predict",
    "profiles",
    "settings",
    "siamese",
    "siamese_classifier",
    "siamese_inputs",
    "train",
]
