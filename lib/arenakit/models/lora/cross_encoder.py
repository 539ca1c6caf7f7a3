"""The cross-encoder: prompt, A and B in one sequence, read by a sequence classifier with LoRA adapters.

    model = CrossEncoderClassifier.from_settings({"backbone": "microsoft/deberta-v3-small", "max_length": 1024})
    model.fit(train)                       # both A/B orders, early stopping on an inner holdout
    proba = model.predict_proba(test)      # swap-averaged: both orders, mapped back, averaged
    load_model("fold_0", quantize="8bit", max_batch_tokens=8192, swap_on_second_device=True)

The backbone is an encoder (DeBERTa-v3, MiniLM: "[CLS] prompt [SEP] A [SEP] B [SEP]") or a decoder
(Gemma-2, Llama, Qwen-2, Mistral: marked sections, the last token pooled, fp16/bf16 or quantized
weights). What differs between the two follows from the backbone itself, in the modules that read
it: the input form (arenakit.models.lora.inputs), the layers that get adapters and the weights'
dtype (arenakit.models.lora.backbone); so one estimator serves both, and nothing here branches on it.
Every device gets its own copy of the base with the same unmerged adapters (a quantized base
cannot be copied or moved, and copying a 9B model that sits on one GPU would hold it twice there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.atomic import write_folder
from arenakit.core.errors import ArtifactError
from arenakit.core.swap import swap_proba, with_swapped_rows
from arenakit.data.competition import swap_ab
from arenakit.inputs.backbones import resolve_backbone
from arenakit.models.lora.backbone import (
    adapter_state,
    add_lora,
    attach_adapters,
    frozen_layer_count,
    load_adapters,
    load_classifier,
    place_on,
    prepare_for_training,
    resolve_dtype,
    trained_layers,
)
from arenakit.models.lora.batching import TokenRows, split_rows
from arenakit.models.lora.classifier import ADAPTER_DIR, LoRAClassifier
from arenakit.models.lora.inputs import cross_encoder_ids, cross_encoder_texts, reads_sections

# What peft writes into the adapter folder: without these the adapters cannot load.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


class CrossEncoderClassifier(LoRAClassifier):
    """A Hugging Face sequence classifier with LoRA adapters, reading prompt, A and B in one input.

    Settings: arenakit.models.lora.settings (ModelSettings, TrainingSettings, RuntimeSettings) and
    swap_average; see LoRAClassifier.
    """

    architecture = "cross_encoder"

    def _load_backbone(self, device: str | None = None):
        """A fresh copy of the base model with a new head, loaded for device (default: the first)."""
        device = device or self._devices()[0]
        dtype = resolve_dtype(self.model.dtype, device, decoder=reads_sections(self.tokenizer()))
        return load_classifier(
            resolve_backbone(self.model.backbone), self.tokenizer(), self.model.quantize, device, dtype
        )

    def _new_network(self):
        settings = self.model
        base = prepare_for_training(self._load_backbone(), self.training.gradient_checkpointing)
        # The base is frozen whole; freeze_layers keeps the adapters off its first blocks.
        frozen = frozen_layer_count(settings.freeze_layers, resolve_backbone(settings.backbone))
        return add_lora(
            base,
            settings.lora_r,
            settings.lora_alpha,
            settings.lora_dropout,
            settings.target_modules,
            trained_layers(settings.layers_to_transform, frozen, base.config.num_hidden_layers),
        )

    def input_ids(self, frame: pd.DataFrame) -> list[list[int]]:
        return cross_encoder_ids(frame, self.tokenizer(), self.model.max_length, self.model.prompt_share)

    def input_texts(self, frame: pd.DataFrame) -> list[str]:
        return cross_encoder_texts(frame, self.tokenizer(), self.model.max_length, self.model.prompt_share)

    def model_inputs(self, frame: pd.DataFrame) -> TokenRows:
        return TokenRows(self.input_ids(frame), self.tokenizer().pad_token_id)

    def _train_rows(self, frame: pd.DataFrame, y: np.ndarray) -> tuple[TokenRows, np.ndarray]:
        if not self.training.swap_augment:
            return self.model_inputs(frame), y
        ids, labels = with_swapped_rows(self.input_ids(frame), y, self.input_ids(swap_ab(frame)), interleave=True)
        return TokenRows(ids, self.tokenizer().pad_token_id), labels

    def _copy_for(self, device: str):
        return place_on(attach_adapters(self._load_backbone(device), *adapter_state(self.model_)), device)

    def _predict_orders(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Both orders in one pass over every device (or one order per half of the devices), the swapped one mapped back."""
        frame = frame.reset_index(drop=True)
        ids, swapped = self.input_ids(frame), self.input_ids(swap_ab(frame))
        rows = TokenRows(ids + swapped, self.tokenizer().pad_token_id)
        n_devices = len(self._devices())
        parts = None
        if self.runtime.swap_on_second_device and n_devices > 1:
            lengths, first = rows.lengths, n_devices // 2
            parts = split_rows(lengths[: len(ids)], first) + [
                len(ids) + part for part in split_rows(lengths[len(ids) :], n_devices - first)
            ]
        proba = self._predict_rows(rows, parts)
        return proba[: len(ids)], swap_proba(proba[len(ids) :])

    def trainable_parameters(self) -> tuple[int, int]:
        named = list(self.model_.named_parameters())
        trained = sum(p.numel() for name, p in named if "lora_" in name or "modules_to_save" in name)
        # modules_to_save keeps the original head beside its trained copy: count the model once.
        frozen = sum(p.numel() for name, p in named if "original_module" not in name and "lora_" not in name)
        return trained, frozen + sum(p.numel() for name, p in named if "lora_" in name)

    def _save_network(self, folder: Path) -> None:
        write_folder(folder / ADAPTER_DIR, lambda temporary: self.model_.save_pretrained(str(temporary)))

    def _load_network(self, folder: Path):
        adapter = folder / ADAPTER_DIR
        missing = [name for name in ADAPTER_FILES if not (adapter / name).is_file()]
        if missing:
            raise ArtifactError(f"{adapter}: no {', '.join(missing)}; copy the whole model folder, or retrain")
        base = self._load_backbone()
        try:
            return load_adapters(base, adapter)
        except Exception as error:  # only the saved adapter files are read here: whatever they raise, name them
            raise ArtifactError(
                f"{adapter}: the saved adapters do not load onto {self.model.backbone} "
                f"({type(error).__name__}: {error}); copy the model folder again, or retrain"
            ) from None
