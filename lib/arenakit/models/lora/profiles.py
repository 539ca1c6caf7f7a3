"""Named presets of the LoRA settings, and the one function that resolves a run's settings.

    settings = resolve_settings(pick_settings(globals()), NOTEBOOK)            # the deberta_lora notebook
    settings = resolve_settings({"max_length": 1024, "profile": "gpu"}, "command line -p")
    model = estimator_for(settings["architecture"]).from_settings(model_settings(settings))

The precedence, in resolve_settings alone (arenakit.core.settings.resolve_settings): a setting
given explicitly (not None) beats the profile's, which beats the architecture's default
(arenakit.models.lora.settings: the Siamese encoder's swap_augment default is False). Every name
is checked (unknown ones refused with the list of known ones), every value against its declared
type and range, and an error names where the value came from. Settings are the architecture's
settings (its groups' fields by name, and swap_average) and RUN_SETTINGS (the folds to train, the
profile, the architecture). Nothing here imports an estimator.

The GPU profile fits microsoft/deberta-v3-small at 1024 tokens on one 16 GB T4 in fp16 (batch 4 x
4 accumulation). The CPU profile is a Siamese run of the bundled MiniLM sized for a first run on
any CPU: it learns (out-of-fold log loss below uniform, predictions that vary), it is not a
competitive model. Its architecture and adapter blocks are chosen for MiniLM
(BACKBONE_BOUND_SETTINGS): another backbone on a CPU gets the cross-encoder on every block.
Without a profile named, the device's is used; the architecture, unless given, is the profile's
(the cross-encoder where the profile names none).

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
The ensemble applies a profile's inference settings to a saved model (inference={"deberta_lora":
"decoder_2xt4"}): the backbone and everything about training stay as the model was saved.
"""

from __future__ import annotations

from collections.abc import Mapping

from arenakit.core.settings import SettingError, check_setting, choice, integer, list_of
from arenakit.core.settings import resolve_settings as resolve_by_precedence
from arenakit.models.lora.predict import available_devices
from arenakit.models.lora.settings import ARCHITECTURE_GROUPS, declared_for, defaults_for

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
    # A Siamese MiniLM that learns in about a minute: 64 tokens a side, adapters on the last of its
    # six blocks only (the backward pass stops there), one epoch at a high rate. On the 999 real
    # rows: 1.0861 out-of-fold log loss on fold 0, 1.0908 on fold 1, per-class std 0.04-0.05
    # (README); the 96-row cross-encoder smoke run it replaces stayed at uniform (1.0981).
    "cpu": {
        "backbone": "minilm",
        "architecture": "siamese",
        "max_length": 64,
        "layers_to_transform": [5],
        "epochs": 1,
        "batch_size": 16,
        "grad_accum": 1,
        "learning_rate": 3e-3,
        "inference_batch_size": 64,
        "max_train_rows": None,
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


ALL_PROFILES = {**PROFILES, **DECODER_PROFILES}
# What a run takes beside the model's settings: which folds, which preset, which architecture.
RUN_SETTINGS = {
    "folds_to_train": list_of(integer(0), optional=True, none="the profile's, [0]"),
    "profile": choice(*ALL_PROFILES, optional=True, none="the device's: gpu or cpu"),
    "architecture": choice(*ARCHITECTURE_GROUPS),
}
# A device profile's settings chosen for its own backbone (the CPU profile's Siamese MiniLM with
# adapters on block 5 of its six): with another backbone they fall back to the defaults
# (cross-encoder, every block), which fit any backbone. The decoder profiles, chosen by name for
# Gemma-2-9B given as any folder, keep theirs.
BACKBONE_BOUND_SETTINGS = ("architecture", "layers_to_transform")
NOTEBOOK = "notebook parameter (the parameters cell, or -p / papermill)"


def profile_name(device: str = "auto") -> str:
    return "gpu" if available_devices(device)[0].startswith("cuda") else "cpu"


def declared_settings(architecture: str) -> dict:
    """What a run of this architecture takes: the run's settings and the architecture's."""
    return {**RUN_SETTINGS, **declared_for(ARCHITECTURE_GROUPS[architecture])}


def setting_names() -> set[str]:
    """Every setting a LoRA run takes, whatever the architecture (for listings: -p help)."""
    return set().union(*(declared_settings(name) for name in ARCHITECTURE_GROUPS))


def pick_settings(namespace: Mapping) -> dict:
    """The LoRA settings among a notebook's variables (its globals()): those named like one."""
    return {key: value for key, value in namespace.items() if key in setting_names()}


def resolve_settings(given: Mapping, source: str, device: str | None = None) -> dict:
    """The run's settings: given (not None) beats the profile, which beats the architecture's default.

    The profile is given["profile"] when set, else the device's (device: the device to choose it
    for; None: the given device, else "auto"). source names where `given` came from, for errors.
    """
    explicit = {key: value for key, value in given.items() if value is not None}
    profile = check_setting("profile", explicit.get("profile"), RUN_SETTINGS["profile"], source)
    name = profile or profile_name(device or explicit.get("device", "auto"))
    preset = profile_settings(name)
    if name in PROFILES and explicit.get("backbone", preset["backbone"]) != preset["backbone"]:
        preset = {key: value for key, value in preset.items() if key not in BACKBONE_BOUND_SETTINGS}
    profile_architecture = preset.pop("architecture", "cross_encoder")
    architecture = check_setting(
        "architecture",
        explicit.get("architecture", profile_architecture),
        RUN_SETTINGS["architecture"],
        source if "architecture" in explicit else f"profile {name!r}",
    )
    defaults = {**defaults_for(ARCHITECTURE_GROUPS[architecture]), "folds_to_train": None}
    settings = resolve_by_precedence(
        declared_settings(architecture), explicit, source, preset, defaults, f"profile {name!r}"
    )
    return {**settings, "architecture": architecture, "profile": name}


def profile_settings(name: str) -> dict:
    """A profile's settings; a decoder profile over the gpu one, so it names every run setting too."""
    if name in PROFILES:
        return dict(PROFILES[name])
    if name in DECODER_PROFILES:
        return {**PROFILES["gpu"], **DECODER_PROFILES[name]}
    raise SettingError(f"profile={name!r}: use one of {', '.join(ALL_PROFILES)}, or None for the device's")


def inference_settings(name: str, estimator) -> dict:
    """What a profile says about inference alone: its settings the estimator (class) takes anew at inference."""
    return {key: value for key, value in profile_settings(name).items() if key in estimator.inference_params}


def model_settings(settings: Mapping) -> dict:
    """The settings that go to the estimator (all but RUN_SETTINGS)."""
    return {key: value for key, value in settings.items() if key not in RUN_SETTINGS}
