"""Benchmark stage "lora": CPU training and inference throughput of the LoRA classifier (MiniLM backbone).

    python -m arenakit.bench --stages lora --embedder-data ../shared/data/arena-sample --embedder-rows 200

On the first rows of the data folder, at --lora-max-length tokens (default 512):
- training: one epoch of LoRA fine-tuning (both A/B orders, length-grouped batches of 8);
- inference: length-sorted batches with dynamic padding against every batch padded to max_length
  (what a plain DataLoader with padding="max_length" does), the same rows and batch size, and
  token-budget batches (at most 16 x max_length padded tokens: the memory of 16 full rows); all
  must agree on the probabilities. The three are timed interleaved (arenakit.bench.timing).
Tokens/s count real tokens (padding excluded), so the inference figures share a numerator. MiniLM
has 512 positions, so 512 is as far as this stage goes; the decoder stage measures 2,048.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from arenakit.bench.timing import interleaved
from arenakit.data import load_competition
from arenakit.models import CrossEncoderClassifier
from arenakit.models.lora import backbone as lora_backbone
from arenakit.models.lora import batching
from arenakit.models.lora import predict as lora_predict
from arenakit.models.lora import settings as lora_settings
from arenakit.models.lora import train as lora_train


def stage_lora(data_dir: Path, max_rows: int = 200, max_length: int = 512, train_rows: int = 64) -> dict:
    import torch

    torch.manual_seed(0)
    frame = load_competition(data_dir, warn=False).train.iloc[:max_rows].reset_index(drop=True)
    model = CrossEncoderClassifier.from_settings(
        {"backbone": "minilm", "max_length": max_length, "device": "cpu", "progress": False}
    )
    rows = model.model_inputs(frame)

    model.model_ = lora_backbone.add_lora(
        model._load_backbone(), model.model.lora_r, model.model.lora_alpha, model.model.lora_dropout
    )

    fit_rows = frame.iloc[:train_rows]
    train_rows, labels = model._train_rows(fit_rows, fit_rows["label"].to_numpy())  # both orders, as fit trains
    no_rows = batching.TokenRows([], rows.pad_id)
    started = time.perf_counter()
    lora_train.train_classifier(
        model.model_,
        train_rows,
        labels,
        no_rows,
        [],
        lora_settings.TrainingSettings(batch_size=8, swap_augment=True, swap_same_batch=True),
        lora_settings.RuntimeSettings(checkpoint_every=0, progress=False),
        device="cpu",
    )
    train_seconds = time.perf_counter() - started

    real_tokens = int(rows.lengths.sum())

    def inference(**options):
        return lambda: (
            lora_predict.predict_proba(model.model_, rows, batch_size=16, devices=["cpu"], progress=False, **options),
        )

    timed = interleaved(
        {
            "dynamic": inference(),
            "fixed": inference(pad_to=max_length),
            "token_budget": inference(max_batch_tokens=16 * max_length),
        }
    )
    (dynamic_seconds, dynamic), (fixed_seconds, fixed), (budget_seconds, budget) = timed.values()
    return {
        "rows": len(frame),
        "max_length": max_length,
        "mean_tokens": real_tokens / len(rows),
        "train_sequences": len(train_rows),
        "train_tokens_per_s": int(train_rows.lengths.sum()) / train_seconds,
        "train_sequences_per_s": len(train_rows) / train_seconds,
        "infer_dynamic_tokens_per_s": real_tokens / dynamic_seconds,
        "infer_fixed_tokens_per_s": real_tokens / fixed_seconds,
        "infer_token_budget_tokens_per_s": real_tokens / budget_seconds,
        "dynamic_vs_fixed_speedup": fixed_seconds / dynamic_seconds,
        "token_budget_vs_fixed_speedup": fixed_seconds / budget_seconds,
        "max_proba_diff": float(max(np.abs(dynamic - fixed).max(), np.abs(budget - fixed).max())),
        "threads": torch.get_num_threads(),
    }
