"""Benchmark stage "embedder": the kit's SentenceEmbedder against plain SentenceTransformer.encode.

    python -m arenakit.bench --stages embedder --embedder-data ../shared/data/arena-sample

The side texts ("a" and "b" of every row) are formatted once; then, on the same texts, model,
batch size and device, two timed passes of each encoder (plain, kit, kit, plain) after a
warm-up. Then embed_sides on an empty cache folder and again on the filled one, each with a
fresh embedder (as a new session would). A CPU embeds a few thousand texts a minute, hence the
row cap; load_average_1min says how busy the machine was when the timing began.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH_SIZE = 64
MAX_ROWS = 1000


def stage_embedder(data_dir: Path, max_rows: int | None = MAX_ROWS, batch_size: int = BATCH_SIZE) -> dict:
    from sentence_transformers import SentenceTransformer

    from arenakit.data import load_competition
    from arenakit.embedder import SentenceEmbedder
    from arenakit.formatting import format_sides

    frame = load_competition(data_dir, warn=False).train
    if max_rows is not None:
        frame = frame.iloc[:max_rows]
    kit = SentenceEmbedder(batch_size=batch_size, show_progress=False)
    started = time.perf_counter()
    texts = [text for side in ("a", "b") for text in format_sides(frame, side, kit.tokenizer, kit.max_seq_length)]
    format_s = time.perf_counter() - started

    plain = SentenceTransformer(str(kit.model_path), device=kit.device, local_files_only=True)
    plain.max_seq_length = kit.max_seq_length
    if kit.fp16:
        plain.half()
    warm_up = texts[:batch_size]
    plain.encode(warm_up, batch_size=batch_size, show_progress_bar=False)
    kit.encode(warm_up)

    def timed(encode) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        return encode(), time.perf_counter() - started

    # Order plain, kit, kit, plain: a load that drifts during the run (other work on a shared
    # machine) weighs on both sides alike.
    load_average = os.getloadavg()[0]
    reference, plain_s = timed(lambda: plain.encode(texts, batch_size=batch_size, show_progress_bar=False))
    ours, kit_s = timed(lambda: kit.encode(texts))
    kit_s += timed(lambda: kit.encode(texts))[1]
    plain_s += timed(lambda: plain.encode(texts, batch_size=batch_size, show_progress_bar=False))[1]

    with tempfile.TemporaryDirectory(prefix="arenakit-embcache-") as cache_dir:
        started = time.perf_counter()
        SentenceEmbedder(batch_size=batch_size, cache_dir=cache_dir, show_progress=False).embed_sides(frame)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        SentenceEmbedder(batch_size=batch_size, cache_dir=cache_dir, show_progress=False).embed_sides(frame)
        cached_s = time.perf_counter() - started

    side_texts = 5 * len(frame)
    return {
        "rows": len(frame),
        "texts": len(texts),
        "batch_size": batch_size,
        "cuda": int(kit.device.startswith("cuda")),
        "load_average_1min": load_average,
        "format_texts_per_s": len(texts) / format_s,
        "plain_st_texts_per_s": 2 * len(texts) / plain_s,
        "kit_encode_texts_per_s": 2 * len(texts) / kit_s,
        "kit_vs_plain_speedup": plain_s / kit_s,
        "max_abs_diff": float(np.abs(ours - reference).max()),
        "embed_sides_first_s": first_s,
        "embed_sides_cached_s": cached_s,
        "embed_sides_first_texts_per_s": side_texts / first_s,
        "cache_speedup": first_s / cached_s,
    }
