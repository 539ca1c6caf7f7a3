"""Where a run's time went: named phases, each timed exclusively (a phase inside another counts for itself only).

    with timed("train"):
        ...
        with timed("validate"):      # counted as validate, not also as train
            ...
    RUN_PHASES.table()               # seconds per phase, in the order they started, and the total

The process has one timer (RUN_PHASES) that the library's long steps report to: loading,
tokenizing, training, validating, predicting, saving. A run resets it at its start and shows the
table at its end.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pandas as pd


class PhaseTimer:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.seconds: dict[str, float] = {}
        self._inner: list[float] = []  # per open phase: seconds spent in phases opened inside it

    @contextmanager
    def phase(self, name: str):
        started = time.perf_counter()
        self.seconds.setdefault(name, 0.0)  # the table lists phases in the order they started
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            inner = self._inner.pop()
            self.seconds[name] += elapsed - inner
            if self._inner:
                self._inner[-1] += elapsed

    def table(self) -> pd.DataFrame:
        """Seconds and share of the total per phase."""
        table = pd.DataFrame({"seconds": pd.Series(self.seconds, dtype=float)})
        total = table["seconds"].sum()
        table["share"] = table["seconds"] / total if total else 0.0
        table.loc["total"] = [total, 1.0 if total else 0.0]
        table.index.name = "phase"
        return table.round({"seconds": 1, "share": 3})


RUN_PHASES = PhaseTimer()


def timed(name: str):
    """A context that adds its time to the process's phase `name` (RUN_PHASES)."""
    return RUN_PHASES.phase(name)
