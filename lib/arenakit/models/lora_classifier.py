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
from arenakit.data import swap_ab
from arenakit.errors import ArtifactError
from arenakit.folds import assign_folds, prompt_groups
from arenakit.formatting import FORMATTER_VERSION, check_formatter_version
from arenakit.models.base import ArenaModel, ArenaTags, training_labels
from arenakit.models.lora.backbone import add_lora, load_adapters, load_classifier, load_tokenizer, quiet_transformers
from arenakit.models.lora.batching import TokenRows
from arenakit.models.lora.inputs import PROMPT_SHARE, cross_encoder_ids, cross_encoder_texts
from arenakit.models.lora.predict import available_devices, predict_proba
from arenakit.models.lora.train import TrainConfig, train_classifier
from arenakit.phases import timed
from arenakit.swap import with_swapped_rows

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
        arenakit.backbones.resolve_backbone at fit and at load.
    max_length : tokens per row, the tokenizer's specials included.
    prompt_share : the prompt's capped share of the tokens while the responses need the room.
    lora_r, lora_alpha, lora_dropout : the adapters' rank, scale (alpha / r multiplies their
        output) and dropout.
    target_modules : leaf names of the Linear layers that get adapters; None: chosen per
        architecture (arenakit.models.lora.backbone.TARGET_MODULES).
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
    device : "auto" (every CUDA device, else the CPU) or a device ("cpu", "cuda:1").
    quantize : "4bit" or "8bit" to load the backbone through bitsandbytes (CUDA), None: no.
    inference_batch_size : rows per inference batch.
    checkpoint_dir : folder for resumable training checkpoints (None: no checkpoints).
    checkpoint_every : optimizer steps between checkpoints (also one at each epoch end).
    seed : seeds the subset, the holdout, the batches and the new weights.
    progress : show progress bars.

    device, inference_batch_size, checkpoint_dir, checkpoint_every and progress change how a run
    goes, not what the model learns (ArenaTags.run_only_params); checkpoint_dir is never taken
    from a saved model.json.
    """

    arena_tags = ArenaTags(
        run_only_params=frozenset({"progress", "checkpoint_dir", "checkpoint_every", "device", "inference_batch_size"}),
        checkpoint_param="checkpoint_dir",
        path_params=frozenset({"checkpoint_dir"}),
    )
    _fitted_attribute = "model_"

    def __init__(
        self,
        *,
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

    def model_inputs(self, frame: pd.DataFrame) -> TokenRows:
        """What the model reads for these rows, ready to batch."""
        return TokenRows(self.input_ids(frame), self.tokenizer().pad_token_id)

    def _train_rows(self, frame: pd.DataFrame, y: np.ndarray) -> tuple[TokenRows, np.ndarray]:
        """Model inputs and labels to train on; with swap_augment each row is followed by its A/B swap."""
        if not self.swap_augment:
            return self.model_inputs(frame), y
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
        with timed("load"):
            base = self._load_backbone()
            if self.gradient_checkpointing:
                base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.model_ = add_lora(base, self.lora_r, self.lora_alpha, self.lora_dropout, self.target_modules)
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

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        return predict_proba(
            self.model_,
            self.model_inputs(frame.reset_index(drop=True)),
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
        adapter = folder / ADAPTER_DIR
        missing = [name for name in ADAPTER_FILES if not (adapter / name).is_file()]
        if missing:
            raise ArtifactError(f"{adapter}: no {', '.join(missing)}; copy the whole model folder, or retrain")
        base = self._load_backbone()
        try:
            self.model_ = load_adapters(base, adapter)
        except Exception as error:  # only the saved adapter files are read here: whatever they raise, name them
            raise ArtifactError(
                f"{adapter}: the saved adapters do not load onto {self.backbone} ({type(error).__name__}: {error}); "
                "copy the model folder again, or retrain"
            ) from None
        self.model_.eval()
        self.history_ = extras.get("history", [])
        self.n_train_rows_ = extras.get("n_train_rows")
