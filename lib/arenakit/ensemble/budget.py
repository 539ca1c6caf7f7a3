"""Will inference finish in time? Time each model on a slice of rows, extrapolate, fall back when not.

    timer = Timer(test, timing_rows=64)
    plan = plan_within_budget({"baseline": member.prototype},
                              lambda name, overrides: timer.time(member, overrides).estimate(len(test)),
                              budget_s=resolve_time_budget(None), start={"baseline": {"swap_average": True}})
    plan.steps        # what was given up, in order; plan.overrides: the settings to load each model with

Kaggle re-runs the submission on about 25,000 hidden rows within 9 hours, and a run that overruns
scores nothing. When the estimate exceeds the budget, the fallback goes in a fixed order, cheapest
quality first, re-timing after every step and stopping as soon as the estimate fits:
  1. each kind of cheaper step in arenakit.models.protocol.STEP_KINDS order (swap-averaging off,
     then the token cap halved, never below min_tokens), slowest model first; a model offers its
     steps itself (ArenaModel.cheaper_steps), so any model kind takes part without a change here.
     Swap-averaging goes off on the rows the time left does not cover only: a model that saved its
     two orders out-of-fold (`swappable`) keeps its swapped pass on the share of rows that fits, the
     ones the models are least sure of (a swapped cascade stage, arenakit.ensemble.swapped);
  2. the slowest model's swapped stage dropped (swap-averaging off on every row), then that model on
     the share of rows the time left allows (a cascade stage: arenakit.ensemble.cascade,
     the rows the cheaper models are least sure of), from its timed cost per row, when that share is at
     least MIN_CASCADE_SHARE; never the cheapest per row, which runs on every row;
  3. the slowest model dropped, until one is left (that one runs whatever the estimate).
Step 2 needs the timings (`timing`, `n_rows`); without them the fallback goes from 1 to 3.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from arenakit.core.paths import kaggle_input_root
from arenakit.ensemble.cascade import member_of, swapped_stage
from arenakit.models.protocol import STEP_KINDS, SWAP_STEP, CheaperStep, configured

KAGGLE_RUN_ENV = "KAGGLE_KERNEL_RUN_TYPE"
KAGGLE_LIMIT_S = 9 * 3600
# Covers what the estimate leaves out (kernel start, installing wheels, reading data, the blend)
# and its error: extrapolating from a slice is good to a few tens of percent, not better.
SAFETY_MARGIN_S = 3600
# Below this share a later stage is dropped rather than cascaded: on 5% of Kaggle's 25,000 rows (1,250)
# and of the fitting rows, its gain is a few thousandths at most, less than its loading risks.
MIN_CASCADE_SHARE = 0.05
WARMUP_ROWS = 2  # predicted before the timed slice: lazy model loading and first-call setup are fixed costs


def on_kaggle() -> bool:
    """Running in a Kaggle kernel: its run-type variable is set or its input mount exists."""
    return KAGGLE_RUN_ENV in os.environ or kaggle_input_root().is_dir()


def resolve_time_budget(time_budget_s: float | None) -> float:
    """Seconds allowed for inference: the given value; else 9 h less the margin on Kaggle; else unlimited."""
    if time_budget_s is not None:
        if not time_budget_s > 0:
            raise ValueError(f"time_budget_s must be a positive number of seconds or None; got {time_budget_s!r}")
        return float(time_budget_s)
    return float(KAGGLE_LIMIT_S - SAFETY_MARGIN_S) if on_kaggle() else math.inf


def format_seconds(seconds: float) -> str:
    if math.isinf(seconds):
        return "unlimited"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


@dataclass(frozen=True)
class Timing:
    """One model setting timed: loading, warm-up, then `rows` rows in `seconds`."""

    load_s: float
    warmup_s: float
    rows: int
    seconds: float

    @property
    def per_row_s(self) -> float:
        return self.seconds / max(self.rows, 1)

    def estimate(self, n_rows: int) -> float:
        """Seconds to load the model and predict n_rows: linear in rows beyond the fixed costs."""
        return self.load_s + self.warmup_s + self.per_row_s * n_rows


class Timer:
    """Times members (arenakit.ensemble.members.Member) on a fixed random slice of `frame`, once per setting.

    For the budget, the slice is the first part of the real inference: its predictions are kept
    (`reusable`) so the full run predicts only the other rows, and timing costs nothing extra.
    With fresh_cache (the benchmark), a model that caches on disk (its cache_info) gets an empty
    temporary cache instead, so rows embedded earlier (locally, the training run embedded them) are timed
    as new ones; those predictions are not kept. A setting re-timed after a fallback step gets an empty
    cache too (the same rows again would be served from it), and its predictions are not kept either.
    """

    def __init__(self, frame: pd.DataFrame, timing_rows: int = 64, seed: int = 0, fresh_cache: bool = False):
        if timing_rows < 1:
            raise ValueError(f"timing_rows must be at least 1; got {timing_rows}")
        self.frame = frame.reset_index(drop=True)
        order = np.random.default_rng(seed).permutation(len(self.frame))[: timing_rows + WARMUP_ROWS]
        # Warm-up and timed rows are distinct when there are enough, so no cache serves the timed ones.
        self.warmup_rows = order[:WARMUP_ROWS]
        self.timed_rows = order[WARMUP_ROWS:] if len(order) > WARMUP_ROWS else order
        self.fresh_cache = fresh_cache
        self.timings: dict[tuple, Timing] = {}
        self._predictions: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._scratch = tempfile.TemporaryDirectory(prefix="arenakit-timing-") if fresh_cache else None

    @staticmethod
    def _key(name: str, overrides: dict) -> tuple:
        return name, tuple(sorted(overrides.items()))

    def _rows(self, positions: np.ndarray) -> pd.DataFrame:
        return self.frame.iloc[positions].reset_index(drop=True)

    def time(self, member, overrides: dict) -> Timing:
        key = self._key(member.name, overrides)
        if key not in self.timings:
            settings = dict(overrides)
            # A re-timing (the budget's fallback changed a setting) predicts the same rows again: a
            # model's disk cache would serve them (MiniLM's embeddings: 108 s estimated for 25,000 rows
            # that take hours), so it gets an empty cache too.
            retimed = any(name == member.name for name, _ in self.timings)
            cache = configured(member.prototype, overrides).cache_info() if self.fresh_cache or retimed else None
            fresh = cache is not None
            if fresh:
                if self._scratch is None:
                    self._scratch = tempfile.TemporaryDirectory(prefix="arenakit-timing-")
                settings[cache.param] = tempfile.mkdtemp(dir=self._scratch.name)
            ensemble = member.load(**settings)
            started = time.perf_counter()
            warm = ensemble.predict_proba(self._rows(self.warmup_rows))
            warmed = time.perf_counter()
            timed = ensemble.predict_proba(self._rows(self.timed_rows))
            finished = time.perf_counter()
            if fresh:
                member.release()  # this copy writes to the throw-away cache: inference loads its own
            else:
                self._predictions[key] = (
                    np.concatenate([self.warmup_rows, self.timed_rows]),
                    np.concatenate([np.asarray(warm), np.asarray(timed)]),
                )
            self.timings[key] = Timing(member.load_seconds, warmed - started, len(self.timed_rows), finished - warmed)
        return self.timings[key]

    def reusable(self, name: str, overrides: dict) -> tuple[np.ndarray, np.ndarray] | None:
        """(row positions in frame, their predictions) made while timing this setting, if kept."""
        return self._predictions.get(self._key(name, overrides))


@dataclass
class BudgetPlan:
    """The settings to run each kept model with, what was given up and the estimates that led there."""

    budget_s: float
    overrides: dict[str, dict]
    estimates: dict[str, float]
    dropped: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    # A cascaded model's share of the rows (absent: every row); "name:swapped": the share its swapped pass takes.
    shares: dict[str, float] = field(default_factory=dict)
    cascaded: list[str] = field(default_factory=list)  # models the budget put on a share of the rows

    @property
    def kept(self) -> list[str]:
        return [name for name in self.overrides if name not in self.dropped]

    @property
    def total_s(self) -> float:
        return sum(self.estimates[name] for name in self.kept)

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "model": name,
                "estimate_s": seconds,
                "estimate": format_seconds(seconds),
                "settings": ", ".join(f"{k}={v}" for k, v in self.overrides[name].items()) or "as trained",
                "share": self.shares.get(name, 1.0),
                "swapped_share": self.shares.get(swapped_stage(name), 0.0),
                "runs": name not in self.dropped,
            }
            for name, seconds in self.estimates.items()
        ]
        return pd.DataFrame(rows).set_index("model")


def plan_within_budget(
    models: dict,
    estimate: Callable[[str, dict], float],
    budget_s: float,
    start: dict[str, dict] | None = None,
    min_tokens: int = 256,
    timing: Callable[[str, dict], Timing] | None = None,
    n_rows: int | None = None,
    shares: dict[str, float] | None = None,
    swappable=(),
) -> BudgetPlan:
    """Fall back in the stated order until the summed estimate fits budget_s.

    models: a model per name (an ArenaModel, fitted or not: only its parameters are read);
    estimate(name, overrides): seconds for the whole test with those settings; start: overrides
    to begin from (e.g. swap_average=True where supported); min_tokens: the floor of a token cap.
    timing(name, overrides) and n_rows (the test's rows): the fixed and per-row costs behind an
    estimate, for the cascade step and for `shares` (a cascade asked for: model -> share of rows, or
    "model:swapped" -> the share of its swapped pass). swappable: models whose swapped pass may be a stage.
    """
    overrides = {name: dict((start or {}).get(name, {})) for name in models}
    cascading = timing is not None and n_rows is not None
    plan = BudgetPlan(budget_s, overrides, {})
    if cascading:
        plan.shares = {
            name: float(share) for name, share in (shares or {}).items() if member_of(name) in models and share < 1
        }

    def cost(name: str) -> float:
        """The model's seconds on its share of the rows, and its swapped pass's on that pass's share."""
        share, swapped = plan.shares.get(name, 1.0), plan.shares.get(swapped_stage(name), 0.0)
        if share >= 1.0 and not swapped:
            return estimate(name, overrides[name])
        timed = timing(name, overrides[name])
        return timed.load_s + timed.warmup_s + timed.per_row_s * (share + swapped) * n_rows

    plan.estimates = {name: cost(name) for name in models}

    def over() -> bool:
        return plan.total_s > budget_s

    def slowest_first() -> list[str]:
        return sorted(plan.kept, key=lambda name: -plan.estimates[name])

    def offered(name: str, kind: str) -> CheaperStep | None:
        steps = configured(models[name], overrides[name]).cheaper_steps(min_tokens)
        return next((step for step in steps if step.kind == kind), None)

    def take(name: str, step: CheaperStep) -> None:
        before = plan.total_s
        overrides[name].update(step.settings)
        plan.estimates[name] = cost(name)
        what = step.name
        if step.kind == SWAP_STEP and name in swappable and cascading:
            share = swapped_share_that_fits(name)
            if share >= MIN_CASCADE_SHARE:
                plan.shares[swapped_stage(name)] = share
                plan.estimates[name] = cost(name)
                what = (
                    f"swap-averaging on the {share:.0%} of rows the models are least sure of only (its swapped "
                    "pass a cascade stage), the share the time left allows"
                )
        plan.steps.append(
            f"over the time budget ({format_seconds(budget_s)} left): {what} for {name}; "
            f"estimate {format_seconds(before)} -> {format_seconds(plan.total_s)}"
        )

    def swapped_share_that_fits(name: str) -> float:
        """The share of rows `name`'s swapped pass can take in the time left, to the percent below (under 1)."""
        per_row = timing(name, overrides[name]).per_row_s
        room = budget_s - plan.total_s
        if room <= 0 or per_row <= 0:
            return 0.0
        return min(math.floor(100 * room / (per_row * n_rows)) / 100, 0.99)

    def share_that_fits(name: str) -> float:
        """The share of rows `name` can take in the time the others leave (0 when none), to the percent below."""
        if not cascading or len(plan.kept) < 2:
            return 0.0
        per_row = {other: timing(other, overrides[other]).per_row_s for other in plan.kept}
        if name == min(plan.kept, key=lambda other: per_row[other]):
            return 0.0  # the cheapest per row is stage 1: it runs on every row
        timed = timing(name, overrides[name])
        swapped = plan.shares.get(swapped_stage(name), 0.0) * timed.per_row_s * n_rows
        room = budget_s - (plan.total_s - plan.estimates[name]) - timed.load_s - timed.warmup_s - swapped
        if room <= 0 or timed.per_row_s <= 0:
            return 0.0
        share = math.floor(100 * room / (timed.per_row_s * n_rows)) / 100
        return min(share, plan.shares.get(name, 1.0) - 0.01)

    for kind in STEP_KINDS:
        while over():
            pending = [(name, step) for name in slowest_first() if (step := offered(name, kind)) is not None]
            if not pending:
                break
            for name, step in pending:
                take(name, step)
                if not over():
                    break
    while over() and len(plan.kept) > 1:
        slowest = slowest_first()[0]
        before = plan.total_s
        if swapped_stage(slowest) in plan.shares:  # swap TTA goes before the model's own rows do
            del plan.shares[swapped_stage(slowest)]
            plan.estimates[slowest] = cost(slowest)
            plan.steps.append(
                f"over the time budget ({format_seconds(budget_s)} left): swap-averaging off on every row for "
                f"{slowest}; estimate {format_seconds(before)} -> {format_seconds(plan.total_s)}"
            )
            continue
        share = share_that_fits(slowest)
        if share >= MIN_CASCADE_SHARE:
            plan.shares[slowest] = share
            plan.cascaded.append(slowest)
            plan.estimates[slowest] = cost(slowest)
            plan.steps.append(
                f"over the time budget ({format_seconds(budget_s)} left): {slowest} on the {share:.0%} of rows "
                f"the cheaper models are least sure of (a cascade stage), the share the time left allows; "
                f"estimate {format_seconds(before)} -> {format_seconds(plan.total_s)}"
            )
            continue
        plan.dropped.append(slowest)
        plan.shares.pop(slowest, None)
        plan.steps.append(
            f"over the time budget ({format_seconds(budget_s)} left): dropped {slowest}, the slowest model"
            + (
                f" (the time left allows it {share:.0%} of the rows, under {MIN_CASCADE_SHARE:.0%})"
                if share > 0
                else ""
            )
            + f"; estimate {format_seconds(before)} -> {format_seconds(plan.total_s)}"
        )
    if over():
        plan.steps.append(
            f"the estimate for {plan.kept[0]} alone ({format_seconds(plan.total_s)}) still exceeds the "
            f"budget ({format_seconds(budget_s)} left); it runs anyway, as the last model left"
        )
    return plan
