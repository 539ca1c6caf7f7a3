"""The Siamese estimator: one shared encoder reads "prompt + A" and "prompt + B", a symmetric head compares them.

    model = SiameseClassifier.from_settings({"backbone": "minilm", "max_length": 256, "epochs": 3})
    model.fit(train); model.predict_proba(test)      # one pass: exactly symmetric, no swapped rows

Each side gets max_length tokens (so each response about twice the cross-encoder's room). The
network (mean pooling, the head symmetric by construction, LoRA or full fine-tuning) is
arenakit.models.lora.siamese. Its predictions are exactly symmetric, so swap-averaging runs no
swapped pass, and training takes no swapped rows by default (a row's swap gives exactly its
gradient again; README: measured). Encoder backbones only; never quantized.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.inputs.backbones import resolve_backbone
from arenakit.models.lora.classifier import ADAPTER_DIR, LoRAClassifier
from arenakit.models.lora.siamese import load_siamese, new_siamese, save_siamese
from arenakit.models.lora.siamese_inputs import SiameseRows, siamese_ids, siamese_texts


class SiameseClassifier(LoRAClassifier):
    """Settings: SiameseModelSettings (ModelSettings and finetune: "lora" or "full"), SiameseTrainingSettings
    (swap_augment off by default), RuntimeSettings and swap_average; see LoRAClassifier."""

    architecture = "siamese"

    @property
    def symmetric(self) -> bool:
        return True  # the head is symmetric by construction: a swapped pass gives the same numbers

    def _new_network(self):
        settings = self.model
        return new_siamese(
            resolve_backbone(settings.backbone),
            settings.finetune,
            settings.lora_r,
            settings.lora_alpha,
            settings.lora_dropout,
            settings.target_modules,
            self.training.gradient_checkpointing,
            settings.layers_to_transform,
            settings.freeze_layers,
        )

    def _sides(self, frame: pd.DataFrame):
        return siamese_ids(frame, self.tokenizer(), self.model.max_length, self.model.prompt_share)

    def input_ids(self, frame: pd.DataFrame) -> list[tuple]:
        """(A, B) pairs of token ids."""
        return list(zip(*self._sides(frame)))

    def input_texts(self, frame: pd.DataFrame) -> list:
        """The (A, B) pair of texts of each row."""
        return siamese_texts(frame, self.tokenizer(), self.model.max_length, self.model.prompt_share)

    def model_inputs(self, frame: pd.DataFrame) -> SiameseRows:
        return SiameseRows(*self._sides(frame), self.tokenizer().pad_token_id)

    def _train_rows(self, frame: pd.DataFrame, y: np.ndarray):
        rows = self.model_inputs(frame)
        # A side never depends on the other: the swap is the same sequences exchanged.
        return rows.with_swaps(y) if self.training.swap_augment else (rows, y)

    def _predict_orders(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        proba = self._predict_one_order(frame)  # symmetric: the swapped pass gives the same numbers
        return proba, proba

    def _copy_for(self, device: str):
        return copy.deepcopy(self.model_).to(device)  # an encoder in full precision, a few hundred MB: copy it

    def trainable_parameters(self) -> tuple[int, int]:
        return self.model_.parameter_counts()

    def _save_network(self, folder: Path) -> None:
        save_siamese(self.model_, folder, folder / ADAPTER_DIR)

    def _load_network(self, folder: Path):
        return load_siamese(folder, folder / ADAPTER_DIR, resolve_backbone(self.model.backbone), self.model.finetune)
