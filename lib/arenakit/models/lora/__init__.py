"""Fine-tuning a Hugging Face sequence classifier with LoRA adapters: inputs, backbone, batching, training, inference.

The estimator that ties them together (fit / predict_proba / save / load) is
arenakit.models.lora_classifier.LoRAClassifierModel.
"""

# The parts, by module: the bench times them one by one (arenakit.bench.lora, .siamese, .decoder).
__all__ = [
    "backbone",
    "batching",
    "checkpoint",
    "inputs",
    "optim",
    "predict",
    "profiles",
    "siamese",
    "siamese_inputs",
    "train",
]
