"""A Hugging Face sequence classifier fine-tuned with LoRA: DeBERTa-v3 on Kaggle, the bundled MiniLM locally.

    model = LoRAClassifierModel(backbone="microsoft/deberta-v3-small", max_length=1024, epochs=2)
    model.fit(train)                       # both A/B orders, early stopping on an inner holdout
    proba = model.predict_proba(test)      # swap-averaged: both orders, mapped back, averaged
    model.save("fold_0"); LoRAClassifierModel.load("fold_0", max_length=512)

The backbone is a NAME ("minilm", "microsoft/deberta-v3-small") or a folder, resolved by
arenakit.backbones.resolve_backbone at fit and at load, so saved adapters load wherever the
weights are (a Kaggle weights dataset, the HF cache). Saved: the adapters and the head (peft's
adapter folder), the formatter version (loading refuses another) and the training history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from arenakit.backbones import resolve_backbone
from arenakit.data import swap_ab, swap_labels
from arenakit.folds import assign_folds, prompt_groups
from arenakit.formatting import FORMATTER_VERSION, check_formatter_version
from arenakit.models.base import ArenaModel, training_labels
from arenakit.models.lora.backbone import add_lora, load_adapters, load_classifier, load_tokenizer, quiet_transformers
from arenakit.models.lora.inputs import PROMPT_SHARE, cross_encoder_ids, cross_encoder_texts
from arenakit.models.lora.predict import available_devices, predict_proba
from arenakit.models.lora.train import TrainConfig, train_classifier

ADAPTER_DIR = "adapter"


def inner_holdout(frame: pd.DataFrame, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of validation rows: stratified, grouped by prompt (no prompt on both sides)."""
    if fraction <= 0:
        return np.zeros(len(frame), dtype=bool)
    n_parts = max(2, round(1 / fraction))
    return assign_folds(y, prompt_groups(frame), n_folds=n_parts, seed=seed) == 0


class LoRAClassifierModel(ArenaModel):
    def __init__(
        self,
        backbone: str = "minilm",
        max_length: int = 512,
        prompt_share: float = PROMPT_SHARE,
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        target_modules: list | None = None,
        learning_rate: float = 2e-4,
        epochs: int = 1,
        batch_size: int = 8,
        grad_accum: int = 1,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
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
        quantize: str | None = None,
        inference_batch_size: int = 32,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 200,
        seed: int = 42,
        progress: bool = True,
    ):
        self.backbone = backbone
        self.max_length = max_length
        self.prompt_share = prompt_share
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.target_modules = target_modules
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
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
        self.quantize = quantize
        self.inference_batch_size = inference_batch_size
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.seed = seed
        self.progress = progress

    # -- pieces ---------------------------------------------------------------------------------

    def _devices(self) -> list[str]:
        return available_devices(self.device)

    def _load_backbone(self):
        return load_classifier(resolve_backbone(self.backbone), self.tokenizer(), self.quantize, self._devices()[0])

    def tokenizer(self):
        """The backbone's tokenizer (loaded once)."""
        if getattr(self, "tokenizer_", None) is None:
            quiet_transformers()
            self.tokenizer_ = load_tokenizer(resolve_backbone(self.backbone))
        return self.tokenizer_

    def input_ids(self, frame: pd.DataFrame) -> list[list[int]]:
        """The token ids the model reads for each row (specials included, at most max_length)."""
        return cross_encoder_ids(frame, self.tokenizer(), self.max_length, self.prompt_share)

    def input_texts(self, frame: pd.DataFrame) -> list[str]:
        """The text each row's input is tokenized from."""
        return cross_encoder_texts(frame, self.tokenizer(), self.max_length, self.prompt_share)

    def _train_rows(self, frame: pd.DataFrame, y: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """Token ids and labels to train on; with swap_augment each row is followed by its A/B swap."""
        ids = self.input_ids(frame)
        if not self.swap_augment:
            return ids, y
        swapped = self.input_ids(swap_ab(frame))
        pairs = [seq for pair in zip(ids, swapped) for seq in pair]
        return pairs, np.column_stack([y, swap_labels(y)]).ravel()

    # -- estimator ------------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> LoRAClassifierModel:
        y = training_labels(frame, y)
        frame = frame.reset_index(drop=True)
        if self.max_train_rows and len(frame) > self.max_train_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(frame), self.max_train_rows, replace=False))
            frame, y = frame.iloc[keep].reset_index(drop=True), y[keep]
        torch.manual_seed(self.seed)
        base = self._load_backbone()
        if self.gradient_checkpointing:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model_ = add_lora(base, self.lora_r, self.lora_alpha, self.lora_dropout, self.target_modules)
        valid = inner_holdout(frame, y, self.valid_fraction, self.seed)
        train_ids, y_train = self._train_rows(frame[~valid].reset_index(drop=True), y[~valid])
        valid_ids = self.input_ids(frame[valid].reset_index(drop=True))
        config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            grad_accum=self.grad_accum,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_ratio=self.warmup_ratio,
            label_smoothing=self.label_smoothing,
            patience=self.patience,
            eval_every=self.eval_every,
            swap_pairs=self.swap_augment and self.swap_same_batch,
            inference_batch_size=self.inference_batch_size,
            checkpoint_every=self.checkpoint_every,
            seed=self.seed,
        )
        self.history_ = train_classifier(
            self.model_,
            train_ids,
            y_train,
            valid_ids,
            y[valid],
            self.tokenizer().pad_token_id,
            config,
            device=self._devices()[0],
            checkpoint_dir=self.checkpoint_dir,
            progress=self.progress,
        )
        self.n_train_rows_ = int((~valid).sum())
        return self

    def predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        return predict_proba(
            self.model_,
            self.input_ids(frame.reset_index(drop=True)),
            self.tokenizer().pad_token_id,
            self.inference_batch_size,
            self._devices(),
            progress=self.progress,
        )

    def trainable_parameters(self) -> tuple[int, int]:
        """(trained, total) parameter counts: the adapters and the head against the whole model (also after load)."""
        named = list(self.model_.named_parameters())
        trained = sum(p.numel() for name, p in named if "lora_" in name or "modules_to_save" in name)
        # modules_to_save keeps the original head beside its trained copy: count the model once.
        frozen = sum(p.numel() for name, p in named if "original_module" not in name and "lora_" not in name)
        return trained, frozen + sum(p.numel() for name, p in named if "lora_" in name)

    # -- artifacts ------------------------------------------------------------------------------

    def _save_state(self, folder: Path) -> dict:
        self.model_.save_pretrained(str(folder / ADAPTER_DIR))
        return {"formatter_version": FORMATTER_VERSION, "history": self.history_, "n_train_rows": self.n_train_rows_}

    def _load_state(self, folder: Path, extras: dict) -> None:
        check_formatter_version(extras["formatter_version"])
        self.model_ = load_adapters(self._load_backbone(), folder / ADAPTER_DIR)
        self.model_.eval()
        self.history_ = extras.get("history", [])
        self.n_train_rows_ = extras.get("n_train_rows")
