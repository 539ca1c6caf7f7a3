"""Default settings for the LoRA notebook: one set that fits a Kaggle T4, one that runs in a minute on a CPU.

    settings = resolve_settings(globals())                 # in the notebook: its parameters
    settings = resolve_settings({"max_length": None, "epochs": 3}, device="cpu")
    model = LoRAClassifierModel(**model_params(settings))

Settings are LoRAClassifierModel's parameters plus folds_to_train; resolve_settings picks them
out of whatever mapping it is given (a notebook's variables, a command line's -p values) and
ignores the rest. A setting left at None takes the profile's value; any value given wins. The GPU
profile fits microsoft/deberta-v3-small at 1024 tokens on one 16 GB T4 in fp16 (batch 4 x 4
accumulation). The CPU profile is a smoke-sized run of the bundled MiniLM: it shows the whole
pipeline working, not a competitive model.
"""

from __future__ import annotations

from collections.abc import Mapping

from arenakit.models.lora.predict import available_devices

# Settings that say which folds to train, not how a model is made.
RUN_SETTINGS = {"folds_to_train"}

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
        "max_length": 64,
        "epochs": 1,
        "batch_size": 16,
        "grad_accum": 1,
        "learning_rate": 5e-4,
        "inference_batch_size": 64,
        "max_train_rows": 96,
        "folds_to_train": [0],
    },
}


def profile_name(device: str = "auto") -> str:
    return "gpu" if available_devices(device)[0].startswith("cuda") else "cpu"


def setting_names() -> set[str]:
    """What resolve_settings takes: the LoRA classifier's parameters and the folds to train."""
    from arenakit.models.lora_classifier import LoRAClassifierModel

    return set(LoRAClassifierModel._get_param_names()) | RUN_SETTINGS


def resolve_settings(given: Mapping, device: str | None = None) -> dict:
    """The profile's settings for the device, overridden by every setting in `given` that is not None.

    device: the device to choose the profile for; None: given["device"], else "auto".
    """
    names = setting_names()
    chosen = {key: value for key, value in given.items() if key in names and value is not None}
    device = device or chosen.get("device", "auto")
    return {**PROFILES[profile_name(device)], **chosen}


def model_params(settings: Mapping) -> dict:
    """The settings that are LoRAClassifierModel parameters."""
    return {key: value for key, value in settings.items() if key in setting_names() - RUN_SETTINGS}
