"""Benchmark stage "siamese": the Siamese model against the cross-encoder at the same per-response token budget (CPU).

    python -m arenakit.bench --stages siamese --embedder-data ../shared/data/arena-sample --embedder-rows 200

Both on the bundled MiniLM with LoRA, each as the kit trains and serves it by default:
- the cross-encoder reads prompt, A and B in one sequence of --lora-max-length tokens, trains on
  both A/B orders and predicts both orders (swap averaging);
- the Siamese model reads prompt + A and prompt + B as two sequences of half that length each (so
  each response gets about the same room as in the cross-encoder), trains on one order and
  predicts once (symmetric by construction).
Rows/s count competition rows (a row and its swap are one row). The machine may be shared:
training and inference alternate between the two models for `rounds` rounds, in turn A B then B A, and the fastest
round counts; the load average before and after is printed beside the figures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from arenakit.core import average_orders, swap_proba
from arenakit.data import load_competition, swap_ab
from arenakit.inputs import resolve_backbone
from arenakit.models import CrossEncoderClassifier, SiameseClassifier
from arenakit.models.lora import backbone as lora_backbone
from arenakit.models.lora import predict as lora_predict
from arenakit.models.lora import settings as lora_settings
from arenakit.models.lora import siamese as lora_siamese
from arenakit.models.lora import train as lora_train

# Sequences per training batch for both models: 4 rows and their swaps, or 4 rows of two sides.
SEQUENCES_PER_BATCH = 8


def _train_seconds(model: CrossEncoderClassifier | SiameseClassifier, frame, batch_size: int, pairs: bool) -> float:
    rows, labels = model._train_rows(frame, frame["label"].to_numpy(copy=True))
    training = lora_settings.TrainingSettings(batch_size=batch_size, swap_augment=pairs, swap_same_batch=pairs)
    started = time.perf_counter()
    no_rows = model.model_inputs(frame.iloc[:0])  # no validation: only the training steps are timed
    lora_train.train_classifier(
        model.model_,
        rows,
        labels,
        no_rows,
        [],
        training,
        lora_settings.RuntimeSettings(checkpoint_every=0, progress=False),
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
    cross.model_ = lora_backbone.add_lora(
        cross._load_backbone(), settings.lora_r, settings.lora_alpha, settings.lora_dropout
    )
    twin = SiameseClassifier.from_settings({"backbone": "minilm", "max_length": max_length // 2, "device": "cpu"})
    twin.model_ = lora_siamese.new_siamese(resolve_backbone("minilm"))
    cross_rows, cross_swapped, twin_rows = (
        cross.model_inputs(frame),
        cross.model_inputs(swap_ab(frame)),
        twin.model_inputs(frame),
    )

    def infer(model, rows):
        return lora_predict.predict_proba(model.model_, rows, batch_size=16, devices=["cpu"], progress=False)

    def served(model, rows, swapped_rows):
        """As the kit serves it by default: one pass when the model is symmetric, else both orders averaged."""
        return infer(model, rows) if model.symmetric else average_orders(infer(model, rows), infer(model, swapped_rows))

    def inference_seconds(model, rows, swapped_rows):
        started = time.perf_counter()
        served(model, rows, swapped_rows)
        return time.perf_counter() - started

    # Each returns its seconds (training: the training steps alone).
    runs = {
        "cross_train": lambda: _train_seconds(cross, fit_rows, SEQUENCES_PER_BATCH, pairs=True),
        "siamese_train": lambda: _train_seconds(twin, fit_rows, SEQUENCES_PER_BATCH // 2, pairs=False),
        "cross_infer": lambda: inference_seconds(cross, cross_rows, cross_swapped),
        "siamese_infer": lambda: inference_seconds(twin, twin_rows, None),
    }
    times = {key: [] for key in runs}
    for round_ in range(rounds):
        # A B, then B A: a load that rises or falls during the run weighs on both models alike.
        for key in runs if round_ % 2 == 0 else reversed(runs):
            times[key].append(runs[key]())
    best = {key: min(values) for key, values in times.items()}
    proba = served(twin, twin_rows, None)
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
