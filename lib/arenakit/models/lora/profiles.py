"""Default settings for the LoRA notebook: one set that fits a Kaggle T4, one that runs in a minute on a CPU.

    settings = resolve_settings(globals())                 # in the notebook: its parameters
    settings = resolve_settings({"max_length": None, "epochs": 3}, device="cpu")
    model = LoRAClassifierModel(**model_params(settings))
    settings = resolve_settings({"profile": "decoder_2xt4", "backbone": "/kaggle/input/gemma-2-9b"})

Settings are LoRAClassifierModel's parameters plus folds_to_train; resolve_settings picks them
out of whatever mapping it is given (a notebook's variables, a command line's -p values) and
ignores the rest. A setting left at None takes the profile's value (or the architecture's,
ARCHITECTURE_DEFAULTS); any value given wins. The GPU profile fits microsoft/deberta-v3-small at
1024 tokens on one 16 GB T4 in fp16 (batch 4 x 4 accumulation). The CPU profile is a smoke-sized run of the bundled MiniLM: it shows the whole
pipeline working, not a competitive model.

The decoder profiles are chosen by name (the `profile` setting), never by device:
- decoder_2xt4: inference of a 9B decoder (Gemma-2-9B) on Kaggle's 2 x T4: 8-bit weights with
  fp16 compute, one copy per T4, max_length 2048, batches of at most 8,192 padded tokens (4 rows
  at 2048), the original order on GPU 0 and the A/B-swapped order on GPU 1. Memory per T4 (README,
  "Decoder judges"): 10.4 GB of 8-bit weights and fp16 embeddings, about 3 GB of activations at
  8,192 tokens (Gemma-2's eager attention included), within the 14.6 GiB a T4 leaves free.
- decoder_train: QLoRA training of a 9B decoder on one 40-80 GB GPU: a 4-bit NF4 base, LoRA
  r=16 on every linear layer of blocks 16 and up (the public Gemma-2 notebook's memory trade),
  gradient checkpointing, paged 8-bit AdamW, 1,024 tokens a row (infer the saved adapters at
  2,048 with decoder_2xt4). On 80 GB, quantize=None (bf16 weights) trains faster.
"""

from __future__ import annotations

from collections.abc import Mapping

from arenakit.models.lora.predict import available_devices

# Settings that say which folds to train or which profile to start from, not how a model is made.
RUN_SETTINGS = {"folds_to_train", "profile"}
# The settings a saved model may take anew for inference (LoRAClassifierModel parameters).
INFERENCE_SETTINGS = (
    "quantize", "dtype", "max_length", "max_batch_tokens", "inference_batch_size", "swap_average",
    "swap_on_second_device", "device",
)  # fmt: skip
GEMMA_2_9B = "google/gemma-2-9b-it"

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

DECODER_PROFILES = {
    "decoder_2xt4": {
        "backbone": GEMMA_2_9B,
        "quantize": "8bit",
        "dtype": "auto",
        "max_length": 2048,
        "max_batch_tokens": 8192,
        "swap_average": True,
        "swap_on_second_device": True,
        "device": "auto",
    },
    "decoder_train": {
        "backbone": GEMMA_2_9B,
        "quantize": "4bit",
        "dtype": "auto",
        "max_length": 1024,
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "layers_to_transform": list(range(16, 42)),
        "gradient_checkpointing": True,
        "optimizer": "paged_adamw_8bit",
        "learning_rate": 1e-4,
        "epochs": 1,
        "batch_size": 4,
        "grad_accum": 4,
        "max_batch_tokens": 16384,
        "max_train_rows": None,
        "folds_to_train": [0],
    },
}


# Defaults that depend on the architecture, over the profile's (a value given still wins): the
# Siamese model is symmetric by construction, so a row's swap gives exactly its gradient again.
ARCHITECTURE_DEFAULTS = {"siamese": {"swap_augment": False}}


def profile_name(device: str = "auto") -> str:
    return "gpu" if available_devices(device)[0].startswith("cuda") else "cpu"


def setting_names() -> set[str]:
    """What resolve_settings takes: the LoRA classifier's parameters and the folds to train."""
    from arenakit.models.lora_classifier import LoRAClassifierModel

    return set(LoRAClassifierModel._get_param_names()) | RUN_SETTINGS


def resolve_settings(given: Mapping, device: str | None = None) -> dict:
    """The profile's settings, overridden by every setting in `given` that is not None.

    The profile is given["profile"] (a name in DECODER_PROFILES or PROFILES) when set, else the
    device's (PROFILES); device: the device to choose it for; None: given["device"], else "auto".
    """
    names = setting_names()
    chosen = {key: value for key, value in given.items() if key in names and value is not None}
    name = chosen.get("profile") or profile_name(device or chosen.get("device", "auto"))
    return {**profile_settings(name), **ARCHITECTURE_DEFAULTS.get(chosen.get("architecture"), {}), **chosen}


def profile_settings(name: str) -> dict:
    """A profile's settings; a decoder profile over the gpu one, so it names every run setting too."""
    if name in PROFILES:
        return dict(PROFILES[name])
    if name in DECODER_PROFILES:
        return {**PROFILES["gpu"], **DECODER_PROFILES[name]}
    raise ValueError(
        f"profile {name!r}: use one of {', '.join([*PROFILES, *DECODER_PROFILES])}, or None for the device's"
    )


def inference_settings(name: str) -> dict:
    """What a profile says about inference alone, for a model trained under other settings.

    The ensemble applies these to a saved model (e.g. decoder_2xt4 to adapters trained with
    decoder_train): the backbone and everything about training stay as the model was saved.
    """
    return {key: value for key, value in profile_settings(name).items() if key in INFERENCE_SETTINGS}


def model_params(settings: Mapping) -> dict:
    """The settings that are LoRAClassifierModel parameters."""
    return {key: value for key, value in settings.items() if key in setting_names() - RUN_SETTINGS}
