"""Benchmark stage "embedder": the kit's SentenceEmbedder against plain SentenceTransformer.encode.

    python -m arenakit.bench --stages embedder --embedder-data ../shared/data/arena-sample

The side texts ("a" and "b" of every row) are formatted once; then, on the same texts, model,
batch size, max length and device, timed passes of plain encode and of the kit's encode at each
precision it offers there (fp32, bf16 where the CPU has native bf16, and int8 on a CPU; fp16 on
CUDA), in the order plain, kit..., kit... reversed, plain after a warm-up, so that a load
drifting during the run (other work on a shared machine) weighs on every side alike. The kit's
fp32 vectors must equal plain encode's; bf16 and int8 ones are compared by cosine to them;
kit_vs_plain_speedup is the default precision's (default_precision_name says which). Then
embed_sides at the default precision on an empty cache folder and again on the filled one, each
with a fresh embedder (as a new session would). A CPU embeds a few thousand texts a minute, hence
the row cap; load_average_1min says how busy the machine was when the timing began.
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from arenakit.data import load_competition
from arenakit.inputs import SentenceEmbedder, cpu_has_native_bf16, format_sides

BATCH_SIZE = 64
MAX_ROWS = 1000


def _timed(encode) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    return encode(), time.perf_counter() - started


def _cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return (left * right).sum(axis=1) / np.maximum(np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1), 1e-12)


def stage_embedder(
    data_dir: Path, max_rows: int | None = MAX_ROWS, batch_size: int = BATCH_SIZE, max_seq_length: int | None = None
) -> dict:
    from sentence_transformers import SentenceTransformer

    frame = load_competition(data_dir, warn=False).train
    if max_rows is not None:
        frame = frame.iloc[:max_rows]
    default = SentenceEmbedder(batch_size=batch_size, max_seq_length=max_seq_length, show_progress=False)
    on_cuda = default.device.startswith("cuda")
    started = time.perf_counter()
    texts = [
        text for side in ("a", "b") for text in format_sides(frame, side, default.tokenizer, default.max_seq_length)
    ]
    format_s = time.perf_counter() - started

    plain = SentenceTransformer(str(default.model_path), device=default.device, local_files_only=True)
    plain.max_seq_length = default.max_seq_length
    if on_cuda:
        plain.half()
    kits = {
        precision: SentenceEmbedder(
            batch_size=batch_size, precision=precision, max_seq_length=max_seq_length, show_progress=False
        )
        for precision in (("fp16",) if on_cuda else ("fp32", *(("bf16",) if cpu_has_native_bf16() else ()), "int8"))
    }
    warm_up = texts[:batch_size]
    plain.encode(warm_up, batch_size=batch_size, show_progress_bar=False)
    for kit in kits.values():
        kit.encode(warm_up)

    def plain_encode():
        return plain.encode(texts, batch_size=batch_size, show_progress_bar=False)

    load_average = os.getloadavg()[0]
    reference, plain_s = _timed(plain_encode)
    vectors, seconds = {}, {}
    for precision, kit in [*kits.items(), *reversed(kits.items())]:
        vectors[precision], elapsed = _timed(partial(kit.encode, texts))
        seconds[precision] = seconds.get(precision, 0.0) + elapsed
    plain_s += _timed(plain_encode)[1]

    with tempfile.TemporaryDirectory(prefix="arenakit-embcache-") as cache_dir:
        started = time.perf_counter()
        SentenceEmbedder(
            batch_size=batch_size, cache_dir=cache_dir, max_seq_length=max_seq_length, show_progress=False
        ).embed_sides(frame)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        SentenceEmbedder(
            batch_size=batch_size, cache_dir=cache_dir, max_seq_length=max_seq_length, show_progress=False
        ).embed_sides(frame)
        cached_s = time.perf_counter() - started

    side_texts = 5 * len(frame)
    exact = "fp16" if on_cuda else "fp32"
    figures = {
        "rows": len(frame),
        "texts": len(texts),
        "batch_size": batch_size,
        "max_seq_length": default.max_seq_length,
        "cuda": int(on_cuda),
        "default_precision_name": default.precision,  # kit_vs_plain_speedup is this precision's
        "load_average_1min": load_average,
        "format_texts_per_s": len(texts) / format_s,
        "plain_st_texts_per_s": 2 * len(texts) / plain_s,
    }
    for precision in kits:
        figures[f"kit_{precision}_texts_per_s"] = 2 * len(texts) / seconds[precision]
        figures[f"kit_{precision}_vs_plain_speedup"] = plain_s / seconds[precision]
    figures["kit_vs_plain_speedup"] = figures[f"kit_{default.precision}_vs_plain_speedup"]
    figures["max_abs_diff"] = float(np.abs(vectors[exact] - reference).max())
    for precision in set(vectors) & {"bf16", "int8"}:
        cosines = _cosines(vectors[precision], vectors["fp32"])
        figures[f"{precision}_min_cosine"], figures[f"{precision}_mean_cosine"] = map(
            float, (cosines.min(), cosines.mean())
        )
    figures.update(
        embed_sides_first_s=first_s,
        embed_sides_cached_s=cached_s,
        embed_sides_first_texts_per_s=side_texts / first_s,
        cache_speedup=first_s / cached_s,
    )
    return figures
