"""Timing that holds up on a shared machine: each variant runs twice, interleaved (A B C ... C B A)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def interleaved(runs: dict[str, Callable[[], tuple]]) -> dict[str, tuple]:
    """Run each callable twice in the order A B ... B A: {name: (mean seconds, *what its last run returned)}.

    A load that rises or falls during the measurement then weighs on every variant alike.
    """
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    results = {}
    for name in [*runs, *reversed(runs)]:
        started = time.perf_counter()
        results[name] = runs[name]()
        seconds[name].append(time.perf_counter() - started)
    return {name: (float(np.mean(seconds[name])), *results[name]) for name in runs}
