"""Benchmark stages "data" (load + parse + clean + folds) and "features" (the length featurizer)."""

from __future__ import annotations

import time
from pathlib import Path

from arenakit.data import assign_folds, load_competition, prompt_groups
from arenakit.inputs import surface_features


def stage_data(data_dir: Path) -> dict:

    started = time.perf_counter()
    competition = load_competition(data_dir, warn=False)
    loaded = time.perf_counter()
    assign_folds(competition.train["label"].to_numpy(), prompt_groups(competition.train), n_folds=5, seed=42)
    finished = time.perf_counter()
    rows = len(competition.train) + len(competition.test)
    return {
        "rows": rows,
        "load_parse_clean_s": loaded - started,
        "folds_s": finished - loaded,
        "total_s": finished - started,
        "rows_per_s": rows / (finished - started),
    }


def stage_features(data_dir: Path) -> dict:

    train = load_competition(data_dir, warn=False).train
    started = time.perf_counter()
    table = surface_features(train)
    seconds = time.perf_counter() - started
    return {"rows": len(train), "columns": table.shape[1], "seconds": seconds, "rows_per_s": len(train) / seconds}
