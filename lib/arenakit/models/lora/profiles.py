"""Default settings for the LoRA notebook: one set that fits a Kaggle T4, one that runs in a minute on a CPU.

    settings = resolve_settings({"max_length": None, "epochs": 3}, device="auto")

A notebook parameter left at None takes the profile's value; any value given wins. The GPU
profile fits microsoft/deberta-v3-small at 1024 tokens on one 16 GB T4 in fp16 (batch 4 x 4
accumulation). The CPU profile is a smoke-sized run of the bundled MiniLM: it shows the whole
pipeline working, not a competitive model.
"""

from __future__ import annotations

from arenakit.models.lora.predict import available_devices

PROFILES = {
    "gpu": {
        "backbone": "microsoft/deberta-v3-small",
        "max_length": 1024,
        "epochs": 1,
        "batch_size": 4,
        "grad_accum": 4,
        "learning_rate": 2e-4,
        "inference_batch_size": 32,
        "max_train_rows": None,
        # One fold holds out 20% for the ensemble's weights; all five take about 5 x longer.
        "folds_to_train": [0],
    },
    "cpu": {
        "backbone": "minilm",
        "max_length": 96,
        "epochs": 1,
        "batch_size": 16,
        "grad_accum": 1,
        "learning_rate": 5e-4,
        "inference_batch_size": 64,
        "max_train_rows": 160,
        "folds_to_train": [0],
    },
}


def profile_name(device: str = "auto") -> str:
    return "gpu" if available_devices(device)[0].startswith("cuda") else "cpu"


def resolve_settings(given: dict, device: str = "auto") -> dict:
    """The profile's settings for this device, overridden by every value in `given` that is not None."""
    settings = dict(PROFILES[profile_name(device)])
    settings.update({key: value for key, value in given.items() if value is not None})
    return settings
