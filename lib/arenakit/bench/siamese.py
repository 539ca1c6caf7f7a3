"""Benchmark stage "siamese": the Siamese model against the cross-encoder at the same per-response token budget (CPU).

    python -m arenakit.bench --stages siamese --embedder-data ../shared/data/arena-sample --embedder-rows 200

Both on the bundled MiniLM with LoRA, each as the kit trains and serves it by default:
- the cross-encoder reads prompt, A and B in one sequence of --lora-max-length tokens, trains on
  both A/B orders and predicts both orders (swap averaging);
- the Siamese model reads prompt + A and prompt + B as two sequences of half that length each (so
  each response gets about the same room as in the cross-encoder), trains on one order and
  predicts once (symmetric by construction).
Rows/s count competition rows (a row and its swap are one row). The machine may be shared:
training and inference alternate between the two models for `rounds` rounds and the fastest
round counts; the load average before and after is printed beside the figures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from arenakit.core.swap import average_orders, swap_proba
from arenakit.data.competition import load_competition, swap_ab
from arenakit.inputs.backbones import resolve_backbone
from arenakit.models.lora.backbone import add_lora
from arenakit.models.lora.classifier import LoRAClassifier
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from arenakit.models.lora.predict import predict_proba
from arenakit.models.lora.settings import RuntimeSettings, TrainingSettings
from arenakit.models.lora.siamese import new_siamese
from arenakit.models.lora.siamese_classifier import SiameseClassifier
from arenakit.models.lora.train import train_classifier

# Sequences per training batch for both models: 4 rows and their swaps, or 4 rows of two sides.
SEQUENCES_PER_BATCH = 8


def _train_seconds(model: LoRAClassifier, frame, batch_size: int, pairs: bool) -> float:
    rows, labels = model._train_rows(frame, frame["label"].to_numpy(copy=True))
    training = TrainingSettings(batch_size=batch_size, swap_augment=pairs, swap_same_batch=pairs)
    started = time.perf_counter()
    no_rows = model.model_inputs(frame.iloc[:0])  # no validation: only the training steps are timed
    train_classifier(
        model.model_, rows, labels, no_rows, [], training, RuntimeSettings(checkpoint_every=0, progress=False)
    )
    return time.perf_counter() - started


def stage_siamese(
    data_dir: Path, max_rows: int = 200, max_length: int = 512, train_rows: int = 64, rounds: int = 2
) -> dict:
    import torch

    torch.manual_seed(0)
    load_before = os.getloadavg()[0]
    frame = load_competition(data_dir, warn=False).train.iloc[:max_rows].reset_index(drop=True)
    fit_rows = frame.iloc[:train_rows]
    cross = CrossEncoderClassifier.from_settings(
        {"backbone": "minilm", "max_length": max_length, "device": "cpu", "progress": False}
    )
    settings = cross.model
    cross.model_ = add_lora(cross._load_backbone(), settings.lora_r, settings.lora_alpha, settings.lora_dropout)
    twin = SiameseClassifier.from_settings({"backbone": "minilm", "max_length": max_length // 2, "device": "cpu"})
    twin.model_ = new_siamese(resolve_backbone("minilm"))
    cross_rows, cross_swapped, twin_rows = (
        cross.model_inputs(frame),
        cross.model_inputs(swap_ab(frame)),
        twin.model_inputs(frame),
    )

    def infer(model, rows):
        return predict_proba(model.model_, rows, batch_size=16, devices=["cpu"], progress=False)

    times = {"cross_train": [], "siamese_train": [], "cross_infer": [], "siamese_infer": []}
    for _ in range(rounds):
        times["cross_train"].append(_train_seconds(cross, fit_rows, SEQUENCES_PER_BATCH, pairs=True))
        times["siamese_train"].append(_train_seconds(twin, fit_rows, SEQUENCES_PER_BATCH // 2, pairs=False))
        started = time.perf_counter()
        average_orders(infer(cross, cross_rows), infer(cross, cross_swapped))
        times["cross_infer"].append(time.perf_counter() - started)
        started = time.perf_counter()
        proba = infer(twin, twin_rows)
        times["siamese_infer"].append(time.perf_counter() - started)
    best = {key: min(values) for key, values in times.items()}
    swapped = infer(twin, twin.model_inputs(swap_ab(frame)))
    return {
        "rows": len(frame),
        "train_rows": len(fit_rows),
        "cross_max_length": max_length,
        "siamese_max_length": max_length // 2,
        "cross_tokens_per_row": float(cross_rows.lengths.mean()),
        "siamese_tokens_per_row": float(np.mean([len(a) + len(b) for a, b in zip(twin_rows.ids_a, twin_rows.ids_b)])),
        "cross_train_rows_per_s": len(fit_rows) / best["cross_train"],
        "siamese_train_rows_per_s": len(fit_rows) / best["siamese_train"],
        "cross_swap_avg_infer_rows_per_s": len(frame) / best["cross_infer"],
        "siamese_infer_rows_per_s": len(frame) / best["siamese_infer"],
        "train_speedup": best["cross_train"] / best["siamese_train"],
        "infer_speedup": best["cross_infer"] / best["siamese_infer"],
        "siamese_max_swap_gap": float(np.abs(proba - swap_proba(swapped)).max()),
        "rounds": rounds,
        "threads": torch.get_num_threads(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
