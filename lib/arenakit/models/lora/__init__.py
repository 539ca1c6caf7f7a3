"""Fine-tuning a Hugging Face sequence classifier with LoRA adapters: inputs, backbone, batching, training, inference.

The estimator that ties them together (fit / predict_proba / save / load) is
arenakit.models.lora_classifier.LoRAClassifierModel.
"""
