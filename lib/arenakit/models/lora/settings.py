"""The LoRA classifiers' settings in three groups, as peft keeps LoraConfig apart from its runtime config.

    ModelSettings(backbone="microsoft/deberta-v3-small", max_length=1024, lora_r=16)   # what the model is
    TrainingSettings(epochs=2, learning_rate=1e-4)                                     # how it learns
    RuntimeSettings(device="cuda:0,cuda:1", max_batch_tokens=8192)                     # how a run goes

Each field's type and range is declared once, here (DECLARED); the estimators check them at fit
and at load, and the notebook, `python -m arenakit.train -p` and the ensemble's `inference=`
check theirs against the same declarations. Setting names are unique across the groups, so a
setting is named by its field alone everywhere (`max_length`, `-p max_length=1024`); in
scikit-learn's get_params / set_params it is also `model__max_length`. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from arenakit.core.settings import Setting, SettingError, boolean, check_settings, choice, integer, list_of, real, text
from arenakit.models.distill import DEFAULT_DISTILL_TEMPERATURE, DEFAULT_DISTILL_WEIGHT, DISTILL_SETTINGS
from arenakit.models.lora.inputs import PROMPT_SHARE

QUANTIZE = ("8bit", "4bit")  # bitsandbytes' LLM.int8 and NF4
DTYPES = ("auto", "float32", "float16", "bfloat16")
OPTIMIZERS = ("adamw", "adamw_8bit", "paged_adamw_8bit")
MIXED_PRECISION = ("auto", "bf16", "fp16", "no")


class SettingsGroup:
    """A dataclass of settings with scikit-learn's get_params / set_params, so the estimator's clone,
    get_params(deep=True) and set_params(model__max_length=...) reach its fields."""

    declared: ClassVar[dict[str, Setting]] = {}

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self.names()}

    def set_params(self, **params) -> SettingsGroup:
        unknown = sorted(set(params) - set(self.names()))
        if unknown:
            raise SettingError(
                f"{type(self).__name__} has no setting(s) {', '.join(unknown)}; it has {', '.join(self.names())}"
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def check(self, source: str) -> None:
        check_settings(self.get_params(), self.declared, source)


@dataclass
class ModelSettings(SettingsGroup):
    """What the model is: its backbone and how that loads, what it reads, and its adapters (peft's LoraConfig)."""

    backbone: str = "minilm"  # a name ("minilm", "microsoft/deberta-v3-small") or a folder
    max_length: int = 512  # tokens per row (Siamese: per side), the tokenizer's specials included
    prompt_share: float = PROMPT_SHARE
    lora_r: int = 8
    lora_alpha: int = 16  # alpha / r multiplies the adapters' output
    lora_dropout: float = 0.05
    target_modules: list | None = None  # leaf names of the Linear layers that get adapters; None: per backbone
    layers_to_transform: list | None = None  # block numbers that get adapters; None: every block
    dtype: str = "auto"  # the frozen weights: auto (decoders fp16 on a T4, bf16 on newer GPUs; encoders fp32)
    quantize: str | None = None  # "8bit" / "4bit" through bitsandbytes; None: no
    # The first k blocks (and the embeddings) stay as the backbone has them: no adapters there, and not
    # trained by full fine-tuning. None: 3 (the McGill paper's) for a backbone pretrained on judged
    # properties (python -m arenakit.train properties), which keeps what its lower layers learnt, else 0.
    freeze_layers: int | None = None

    declared: ClassVar[dict[str, Setting]] = {
        "backbone": text(),
        "max_length": integer(8),
        "prompt_share": real(0, 1, above=True),
        "lora_r": integer(1),
        "lora_alpha": real(0, above=True),
        "lora_dropout": real(0, 0.9),
        "target_modules": list_of(text(), optional=True, none="chosen per backbone"),
        "layers_to_transform": list_of(integer(0), optional=True, none="every block"),
        "dtype": choice(*DTYPES),
        "quantize": choice(*QUANTIZE, optional=True, none="no quantization"),
        "freeze_layers": integer(0, optional=True, none="3 for a properties-pretrained backbone, else 0"),
    }


@dataclass
class SiameseModelSettings(ModelSettings):
    """The Siamese encoder's: ModelSettings and the choice of LoRA or full fine-tuning; never quantized."""

    finetune: str = "lora"  # "lora" or "full" (every encoder weight; a learning rate around 2e-5)

    declared: ClassVar[dict[str, Setting]] = {
        **ModelSettings.declared,
        "finetune": choice("lora", "full"),
        "quantize": choice(optional=True, none="a Siamese encoder loads in full precision"),
    }


@dataclass
class TrainingSettings(SettingsGroup):
    """How the model learns: what the training loop (arenakit.models.lora.train) reads, as the estimator holds it."""

    epochs: int = 1
    batch_size: int = 8  # training rows per batch, per process (a row and its swap count as two)
    grad_accum: int = 1  # batches per process per optimizer step
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    optimizer: str = "adamw"
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    max_grad_norm: float = 1.0
    patience: int = 1  # validations without a better log loss before stopping
    eval_every: int = 0  # optimizer steps between validations; 0: at each epoch end only
    valid_fraction: float = 0.1  # held out (stratified, grouped by prompt) for early stopping; 0: none
    max_train_rows: int | None = None
    gradient_checkpointing: bool = False
    swap_augment: bool = True  # train on both A/B orders
    swap_same_batch: bool = True  # with swap_augment, a row and its swap in one batch
    seed: int = 42
    # With a teacher on the fit frame (arenakit.models.distill): the KL term's share and temperature.
    distill_weight: float = DEFAULT_DISTILL_WEIGHT
    distill_temperature: float = DEFAULT_DISTILL_TEMPERATURE

    declared: ClassVar[dict[str, Setting]] = {
        "epochs": integer(1),
        "batch_size": integer(1),
        "grad_accum": integer(1),
        "learning_rate": real(0, above=True),
        "weight_decay": real(0),
        "optimizer": choice(*OPTIMIZERS),
        "warmup_ratio": real(0, 1),
        "label_smoothing": real(0, 1),
        "max_grad_norm": real(0),
        "patience": integer(1),
        "eval_every": integer(0),
        "valid_fraction": real(0, 0.5),
        "max_train_rows": integer(1, optional=True, none="every row"),
        "gradient_checkpointing": boolean(),
        "swap_augment": boolean(),
        "swap_same_batch": boolean(),
        "seed": integer(0),
        **DISTILL_SETTINGS,
    }

    @property
    def swap_pairs(self) -> bool:
        """Rows 2k, 2k+1 are a row and its swap, to keep in one batch."""
        return self.swap_augment and self.swap_same_batch


@dataclass
class RuntimeSettings(SettingsGroup):
    """How a run goes, not what the model learns: a saved fold is reused whatever these are."""

    device: str = "auto"  # "auto" (every CUDA device, else the CPU), "cpu", "cuda:1" or "cuda:0,cuda:1"
    inference_batch_size: int = 32  # rows per inference batch (when max_batch_tokens is None)
    max_batch_tokens: int | None = None  # cap inference batches by padded tokens (rows x width) instead
    swap_on_second_device: bool = False  # the original order on the first half of the devices, the swap on the other
    checkpoint_dir: str | None = None  # resumable training checkpoints; never taken from a saved model.json
    checkpoint_every: int = 200  # optimizer steps between checkpoints (also one at each epoch end); 0: epoch ends
    progress: bool = True
    mixed_precision: str = "auto"  # "auto" (bf16 where the GPU has it, fp16 on older GPUs, none on CPU)

    declared: ClassVar[dict[str, Setting]] = {
        "device": text(),
        "inference_batch_size": integer(1),
        "max_batch_tokens": integer(1, optional=True, none="batches of inference_batch_size rows"),
        "swap_on_second_device": boolean(),
        "checkpoint_dir": text(optional=True, none="no checkpoints"),
        "checkpoint_every": integer(0),
        "progress": boolean(),
        "mixed_precision": choice(*MIXED_PRECISION),
    }


@dataclass
class SiameseTrainingSettings(TrainingSettings):
    """The Siamese model is symmetric by construction: a row's swap gives exactly its gradient again, so no swap rows."""

    swap_augment: bool = False


# The estimators' own setting beside the groups: predict_proba averages both A/B orders.
SWAP_AVERAGE = {"swap_average": boolean()}
GROUP_NAMES = ("model", "training", "runtime")
# Each architecture's groups (the classes of its model, training and runtime settings), in GROUP_NAMES order.
ARCHITECTURE_GROUPS = {
    "cross_encoder": (ModelSettings, TrainingSettings, RuntimeSettings),
    "siamese": (SiameseModelSettings, SiameseTrainingSettings, RuntimeSettings),
}


def declared_for(groups) -> dict[str, Setting]:
    """Every setting of these groups and swap_average, by its flat name, with its declaration."""
    return {name: setting for group in groups for name, setting in group.declared.items()} | SWAP_AVERAGE


def defaults_for(groups) -> dict:
    """The defaults of every setting of these groups and swap_average, by flat name."""
    return {name: value for group in groups for name, value in group().get_params().items()} | {"swap_average": True}
