"""A Hugging Face sequence classifier fine-tuned with LoRA: DeBERTa-v3 or a 9B decoder on Kaggle, MiniLM locally.

    model = LoRAClassifierModel(backbone="microsoft/deberta-v3-small", max_length=1024, epochs=2)
    model.fit(train)                       # both A/B orders, early stopping on an inner holdout
    proba = model.predict_proba(test)      # swap-averaged: both orders, mapped back, averaged
    model.save("fold_0"); LoRAClassifierModel.load("fold_0", max_length=512)
    LoRAClassifierModel(architecture="siamese", swap_augment=False)   # two sequences a row, symmetric head
    LoRAClassifierModel.load("fold_0", quantize="8bit", max_batch_tokens=8192, swap_on_second_device=True)

A decoder (Gemma-2, Llama, Qwen-2, Mistral) reads marked sections and pools its last token
(arenakit.models.lora.inputs); its weights load in fp16/bf16 (dtype="auto") or quantized on
every device, each device with its own copy of the base and the same unmerged adapters.

The backbone is a NAME ("minilm", "microsoft/deberta-v3-small") or a folder, resolved by
arenakit.inputs.backbones.resolve_backbone at fit and at load, so saved adapters load wherever the
weights are (a Kaggle weights dataset, the HF cache). Saved: the adapters and the head (peft's
adapter folder), the formatter version (loading refuses another) and the training history.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from arenakit.core.atomic import write_folder
from arenakit.core.errors import ArtifactError
from arenakit.core.phases import timed
from arenakit.core.swap import average_orders, with_swapped_rows
from arenakit.data.competition import swap_ab
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.inputs.backbones import resolve_backbone
from arenakit.inputs.formatting import FORMATTER_VERSION, check_formatter_version
from arenakit.models.base import ArenaModel, ArenaTags, training_labels
from arenakit.models.lora.backbone import (
    adapter_state,
    add_lora,
    attach_adapters,
    load_adapters,
    load_classifier,
    load_tokenizer,
    place_on,
    prepare_for_training,
    quiet_transformers,
    resolve_dtype,
)
from arenakit.models.lora.batching import TokenRows, split_rows
from arenakit.models.lora.inputs import PROMPT_SHARE, cross_encoder_ids, cross_encoder_texts, reads_sections
from arenakit.models.lora.predict import available_devices, predict_proba
from arenakit.models.lora.profiles import INFERENCE_SETTINGS
from arenakit.models.lora.siamese import check_architecture, load_siamese, new_siamese, save_siamese
from arenakit.models.lora.siamese_inputs import SiameseRows, siamese_ids, siamese_texts
from arenakit.models.lora.train import TrainConfig, train_classifier

ADAPTER_DIR = "adapter"
# What peft writes into it: without these the adapters cannot load.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def inner_holdout(frame: pd.DataFrame, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of validation rows: stratified, grouped by prompt (no prompt on both sides)."""
    if fraction <= 0:
        return np.zeros(len(frame), dtype=bool)
    n_parts = max(2, round(1 / fraction))
    return assign_folds(y, prompt_groups(frame), n_folds=n_parts, seed=seed) == 0


class LoRAClassifierModel(ArenaModel):
    """A Hugging Face sequence classifier with LoRA adapters, reading prompt, A and B in one input.

    Parameters
    ----------
    backbone : a name ("minilm", "microsoft/deberta-v3-small") or a folder; resolved by
        arenakit.inputs.backbones.resolve_backbone at fit and at load.
    architecture : "cross_encoder" (one sequence: prompt, A and B) or "siamese" (one shared encoder
        reads "prompt + A" and "prompt + B", each with max_length tokens; mean pooling; a head
        symmetric by construction: arenakit.models.lora.siamese). Siamese predictions are exactly
        symmetric, so swap_average is ignored (no swapped pass: half the inference cost), and
        swap_augment only repeats each row (its gradient, but for dropout) at twice the cost: set it
        False, and train more epochs instead (README: measured). Encoder backbones only.
    finetune : "lora" (adapters on the encoder, the head in full) or, with architecture="siamese",
        "full" (every encoder weight; use a learning rate around 2e-5).
    max_length : tokens per row (siamese: per side), the tokenizer's specials included.
    prompt_share : the prompt's capped share of the tokens while the responses need the room.
    lora_r, lora_alpha, lora_dropout : the adapters' rank, scale (alpha / r multiplies their
        output) and dropout.
    target_modules : leaf names of the Linear layers that get adapters; None: chosen per
        architecture (arenakit.models.lora.backbone.TARGET_MODULES: every linear layer of a
        decoder block, q/k/v/o and gate/up/down).
    layers_to_transform : block numbers (from 0) that get adapters, e.g. list(range(16, 42)) to leave
        the first 16 of Gemma-2-9B's 42 blocks without; None: every block.
    learning_rate, weight_decay, warmup_ratio : the optimizer's, with a cosine schedule after linear
        warmup (warmup_ratio of the optimizer steps).
    optimizer : "adamw", or bitsandbytes' "adamw_8bit" / "paged_adamw_8bit" (a quarter of the
        optimizer memory; the paged one spills to CPU memory instead of failing).
    epochs : passes over the training rows at most (early stopping may stop sooner).
    batch_size : training rows per batch (a row and its swap count as two).
    grad_accum : batches per optimizer step.
    max_grad_norm : gradients are clipped to this norm.
    label_smoothing : cross-entropy label smoothing.
    patience : validations without a better log loss before training stops.
    eval_every : optimizer steps between validations; 0: at each epoch end only.
    valid_fraction : share of the training rows held out (stratified, grouped by prompt) for
        validation and early stopping; 0: none, the last weights are kept.
    max_train_rows : train on a random subset of this many rows (None: all).
    gradient_checkpointing : recompute activations in the backward pass (less memory, slower).
    swap_augment : train on both A/B orders.
    swap_same_batch : with swap_augment, keep a row and its swap in the same batch.
    swap_average : average each prediction with the mapped-back prediction on the swapped rows.
    device : "auto" (every CUDA device, else the CPU), a device ("cpu", "cuda:1") or several
        separated by commas ("cuda:0,cuda:1"). Training uses the first; inference splits the
        rows across all, each device with its own copy of the model.
    dtype : what the frozen weights load in: "auto" (a decoder: fp16 on a CUDA device without
        bf16 such as the T4, bf16 where supported, fp32 on CPU; an encoder: fp32), "float32",
        "float16" or "bfloat16". The adapters and the head are always fp32.
    quantize : "8bit" or "4bit" to load the backbone through bitsandbytes (LLM.int8 / NF4, on
        CUDA or CPU), each device its own copy; None: no.
    inference_batch_size : rows per inference batch (when max_batch_tokens is None).
    max_batch_tokens : cap inference batches by padded tokens (rows x width) instead of rows;
        the widest batch runs first, and a batch that runs out of CUDA memory is halved.
    swap_on_second_device : with swap_average and two or more devices, predict the original
        order on the first half of the devices and the A/B-swapped order on the other (the LMSYS
        winners' layout on 2 x T4); otherwise both orders are split across all devices.
    checkpoint_dir : folder for resumable training checkpoints (None: no checkpoints).
    checkpoint_every : optimizer steps between checkpoints (also one at each epoch end).
    seed : seeds the subset, the holdout, the batches and the new weights.
    progress : show progress bars.

    device, inference_batch_size, max_batch_tokens, swap_on_second_device, checkpoint_dir,
    checkpoint_every and progress change how a run goes, not what the model learns
    (ArenaTags.run_only_params); checkpoint_dir is never taken from a saved model.json.
    """

    arena_tags = ArenaTags(
        run_only_params=frozenset(
            {
                "progress",
                "checkpoint_dir",
                "checkpoint_every",
                "device",
                "inference_batch_size",
                "max_batch_tokens",
                "swap_on_second_device",
            }
        ),
        checkpoint_param="checkpoint_dir",
        path_params=frozenset({"checkpoint_dir"}),
    )
    _fitted_attribute = "model_"

    def __init__(
        self,
        *,
        backbone: str = "minilm",
        architecture: str = "cross_encoder",
        finetune: str = "lora",
        max_length: int = 512,
        prompt_share: float = PROMPT_SHARE,
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        target_modules: list | None = None,
        layers_to_transform: list | None = None,
        learning_rate: float = 2e-4,
        epochs: int = 1,
        batch_size: int = 8,
        grad_accum: int = 1,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        optimizer: str = "adamw",
        max_grad_norm: float = 1.0,
        label_smoothing: float = 0.0,
        patience: int = 1,
        eval_every: int = 0,
        valid_fraction: float = 0.1,
        max_train_rows: int | None = None,
        gradient_checkpointing: bool = False,
        swap_augment: bool = True,
        swap_same_batch: bool = True,
        swap_average: bool = True,
        device: str = "auto",
        dtype: str = "auto",
        quantize: str | None = None,
        inference_batch_size: int = 32,
        max_batch_tokens: int | None = None,
        swap_on_second_device: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 200,
        seed: int = 42,
        progress: bool = True,
    ):
        self.backbone = backbone
        self.architecture = architecture
        self.finetune = finetune
        self.max_length = max_length
        self.prompt_share = prompt_share
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.target_modules = target_modules
        self.layers_to_transform = layers_to_transform
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.max_grad_norm = max_grad_norm
        self.label_smoothing = label_smoothing
        self.patience = patience
        self.eval_every = eval_every
        self.valid_fraction = valid_fraction
        self.max_train_rows = max_train_rows
        self.gradient_checkpointing = gradient_checkpointing
        self.swap_augment = swap_augment
        self.swap_same_batch = swap_same_batch
        self.swap_average = swap_average
        self.device = device
        self.dtype = dtype
        self.quantize = quantize
        self.inference_batch_size = inference_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.swap_on_second_device = swap_on_second_device
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.seed = seed
        self.progress = progress

    # -- pieces ---------------------------------------------------------------------------------

    def _is_siamese(self) -> bool:
        return check_architecture(self.architecture, self.finetune, self.quantize)

    def _devices(self) -> list[str]:
        return available_devices(self.device)

    def _load_backbone(self, device: str | None = None):
        """A fresh copy of the base model with a new head, loaded for device (default: the first)."""
        device = device or self._devices()[0]
        dtype = resolve_dtype(self.dtype, device, decoder=reads_sections(self.tokenizer()))
        return load_classifier(resolve_backbone(self.backbone), self.tokenizer(), self.quantize, device, dtype)

    def _replicas(self, devices: list[str]) -> list:
        """The model on devices[1:]: each its own base loaded there, with model_'s adapters and head (unmerged).

        A decoder's is never a deep copy: a quantized base cannot be copied or moved, and copying a
        9B model that sits on one GPU would hold it twice there. A Siamese encoder (never quantized,
        a few hundred MB) is copied. Kept until the next fit or load.
        """
        cache = self.__dict__.setdefault("_device_models", {})
        state = None
        replicas = []
        for position, device in enumerate(devices[1:], start=1):
            if (position, device) not in cache and self._is_siamese():  # an encoder in full precision: copy it
                cache[(position, device)] = copy.deepcopy(self.model_).to(device)
            if (position, device) not in cache:
                state = state or adapter_state(self.model_)
                cache[(position, device)] = place_on(attach_adapters(self._load_backbone(device), *state), device)
            replicas.append(cache[(position, device)])
        return replicas

    def tokenizer(self):
        """The backbone's tokenizer (loaded once)."""
        if getattr(self, "tokenizer_", None) is None:
            quiet_transformers()
            self.tokenizer_ = load_tokenizer(resolve_backbone(self.backbone))
        return self.tokenizer_

    def input_ids(self, frame: pd.DataFrame) -> list[list[int]]:
        """The token ids the model reads for each row (specials included, at most max_length); siamese: (A, B) pairs."""
        if self._is_siamese():
            return list(zip(*siamese_ids(frame, self.tokenizer(), self.max_length, self.prompt_share)))
        return cross_encoder_ids(frame, self.tokenizer(), self.max_length, self.prompt_share)

    def input_texts(self, frame: pd.DataFrame) -> list[str]:
        """The text each row's input is tokenized from; siamese: the (A, B) pair of texts."""
        if self._is_siamese():
            return siamese_texts(frame, self.tokenizer(), self.max_length, self.prompt_share)
        return cross_encoder_texts(frame, self.tokenizer(), self.max_length, self.prompt_share)

    def model_inputs(self, frame: pd.DataFrame) -> TokenRows:
        """What the model reads for these rows, ready to batch."""
        if self._is_siamese():
            return SiameseRows(
                *siamese_ids(frame, self.tokenizer(), self.max_length, self.prompt_share), self.tokenizer().pad_token_id
            )
        return TokenRows(self.input_ids(frame), self.tokenizer().pad_token_id)

    def _train_rows(self, frame: pd.DataFrame, y: np.ndarray) -> tuple[TokenRows, np.ndarray]:
        """Model inputs and labels to train on; with swap_augment each row is followed by its A/B swap."""
        if not self.swap_augment:
            return self.model_inputs(frame), y
        if self._is_siamese():  # a side never depends on the other: the swap is the same sequences exchanged
            return self.model_inputs(frame).with_swaps(y)
        ids, labels = with_swapped_rows(self.input_ids(frame), y, self.input_ids(swap_ab(frame)), interleave=True)
        return TokenRows(ids, self.tokenizer().pad_token_id), labels

    # -- estimator ------------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> LoRAClassifierModel:
        y = training_labels(frame, y)
        frame = frame.reset_index(drop=True)
        if self.max_train_rows and len(frame) > self.max_train_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(frame), self.max_train_rows, replace=False))
            frame, y = frame.iloc[keep].reset_index(drop=True), y[keep]
        torch.manual_seed(self.seed)
        self.__dict__.pop("_device_models", None)
        with timed("load"):
            if self._is_siamese():
                self.model_ = new_siamese(
                    resolve_backbone(self.backbone),
                    self.finetune,
                    self.lora_r,
                    self.lora_alpha,
                    self.lora_dropout,
                    self.target_modules,
                    self.gradient_checkpointing,
                    self.layers_to_transform,
                )
            else:
                base = prepare_for_training(self._load_backbone(), self.gradient_checkpointing)
                self.model_ = add_lora(
                    base, self.lora_r, self.lora_alpha, self.lora_dropout, self.target_modules, self.layers_to_transform
                )
        valid = inner_holdout(frame, y, self.valid_fraction, self.seed)
        with timed("tokenize"):
            train_rows, y_train = self._train_rows(frame[~valid].reset_index(drop=True), y[~valid])
            valid_rows = self.model_inputs(frame[valid].reset_index(drop=True))
        config = TrainConfig.from_params(
            self.get_params(deep=False), swap_pairs=self.swap_augment and self.swap_same_batch
        )
        self.history_ = train_classifier(
            self.model_,
            train_rows,
            y_train,
            valid_rows,
            y[valid],
            config,
            device=self._devices()[0],
            checkpoint_dir=self.checkpoint_dir,
            progress=self.progress,
        )
        self.n_train_rows_ = int((~valid).sum())
        return self

    def _predict_rows(self, rows: TokenRows, parts: list[np.ndarray] | None = None) -> np.ndarray:
        devices = self._devices()
        return predict_proba(
            self.model_,
            rows,
            self.inference_batch_size,
            devices,
            progress=self.progress,
            max_batch_tokens=self.max_batch_tokens,
            replicas=self._replicas(devices),
            parts=parts,
        )

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict_rows(self.model_inputs(frame.reset_index(drop=True)))

    def _predict_swap_averaged(self, frame: pd.DataFrame) -> np.ndarray:
        """Both orders in one pass over every device (or one order per half of the devices), mapped back, averaged."""
        if self._is_siamese():  # symmetric by construction: the swapped pass would give the same numbers
            return self._predict_one_order(frame)
        frame = frame.reset_index(drop=True)
        ids, swapped = self.input_ids(frame), self.input_ids(swap_ab(frame))
        rows = TokenRows(ids + swapped, self.tokenizer().pad_token_id)
        n_devices = len(self._devices())
        parts = None
        if self.swap_on_second_device and n_devices > 1:
            lengths, first = rows.lengths, n_devices // 2
            parts = split_rows(lengths[: len(ids)], first) + [
                len(ids) + part for part in split_rows(lengths[len(ids) :], n_devices - first)
            ]
        proba = self._predict_rows(rows, parts)
        return average_orders(proba[: len(ids)], proba[len(ids) :])

    def trainable_parameters(self) -> tuple[int, int]:
        """(trained, total) parameter counts: the adapters and the head against the whole model (also after load)."""
        if self._is_siamese():
            return self.model_.parameter_counts()
        named = list(self.model_.named_parameters())
        trained = sum(p.numel() for name, p in named if "lora_" in name or "modules_to_save" in name)
        # modules_to_save keeps the original head beside its trained copy: count the model once.
        frozen = sum(p.numel() for name, p in named if "original_module" not in name and "lora_" not in name)
        return trained, frozen + sum(p.numel() for name, p in named if "lora_" in name)

    # -- artifacts ------------------------------------------------------------------------------

    def _save_state(self, folder: Path) -> dict:
        if self._is_siamese():
            save_siamese(self.model_, folder, folder / ADAPTER_DIR)
        else:
            write_folder(folder / ADAPTER_DIR, lambda temporary: self.model_.save_pretrained(str(temporary)))
        return {"formatter_version": FORMATTER_VERSION, "history": self.history_, "n_train_rows": self.n_train_rows_}

    def _load_cross_encoder(self, adapter: Path):
        missing = [name for name in ADAPTER_FILES if not (adapter / name).is_file()]
        if missing:
            raise ArtifactError(f"{adapter}: no {', '.join(missing)}; copy the whole model folder, or retrain")
        base = self._load_backbone()
        try:
            return load_adapters(base, adapter)
        except Exception as error:  # only the saved adapter files are read here: whatever they raise, name them
            raise ArtifactError(
                f"{adapter}: the saved adapters do not load onto {self.backbone} ({type(error).__name__}: {error}); "
                "copy the model folder again, or retrain"
            ) from None

    def _load_state(self, folder: Path, extras: dict) -> None:
        check_formatter_version(extras["formatter_version"])
        self.__dict__.pop("_device_models", None)
        if self._is_siamese():
            self.model_ = load_siamese(folder, folder / ADAPTER_DIR, resolve_backbone(self.backbone), self.finetune)
        else:
            self.model_ = self._load_cross_encoder(folder / ADAPTER_DIR)
        self.model_.eval()
        self.history_ = extras.get("history", [])
        self.n_train_rows_ = extras.get("n_train_rows")
        # Every device gets its copy now, so loading (not the first prediction) carries that cost.
        self._replicas(self._devices())

    # -- the model protocol (arenakit.models.protocol) ------------------------------------------

    inference_params = frozenset(INFERENCE_SETTINGS)
    token_cap_param = "max_length"

    @property
    def symmetric(self) -> bool:
        """A Siamese model reads A and B through one encoder and a symmetric head: one pass is exactly symmetric."""
        return self.architecture == "siamese"
