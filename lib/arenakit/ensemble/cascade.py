"""A cascade: the cheapest member on every row, each later member only on the rows the blend before it is least sure of.

    spec = CascadeSpec(("baseline", "minilm_lgbm", "deberta_lora"), {"minilm_lgbm": 0.5, "deberta_lora": 0.3})
    cascade = fit_cascade(y, oofs, spec)       # thresholds and one blend per stage, fitted on out-of-fold rows
    cascade.rows_for("deberta_lora", probas)   # the test rows that member must predict (probas: stages before it)
    cascade.predict(probas)                    # each row: the blend of the members that saw it

Most of a big model's gain sits on the rows the cheap ones are unsure of (WSDM Cup 2025, 7th place:
Gemma-2-9B on every row, a 32B model on the 15% it was least sure of). Stage 1 runs on every row;
stage k sees the rows where the prediction after stage k-1 (for each row, the blend of the members
that saw it) is least certain, and re-blends them with a blend of its own, fitted on the rows it
sees; the other rows keep their prediction.

The measure is the entropy of the prediction. Under a calibrated prediction a row's expected log
loss is its entropy, so the rows of highest entropy are where the most log loss is at stake; the
margin between the two most probable classes ignores the third, and with ties at a third of the
rows, (0.45, 0.45, 0.10) and (0.45, 0.10, 0.45) are not equally settled.

Each later stage routes by a threshold on the entropy, fitted on the out-of-fold rows as the value
above which its share of them lies. A test set of another size (3 public rows, 25,000 hidden
ones) then routes the same kinds of rows, and the share of test rows each stage sees is measured,
not imposed. A stage of share 1 sees every row (threshold -inf); of share 0, none (+inf). A stage
whose share the time budget counted on (CascadeSpec.required) also takes at most that share of any
rows, the most uncertain first: a test less certain than the OOF rows cannot overrun Kaggle's limit.

A stage can also be the A/B-swapped pass of a member that ran one order ("gemma_judge:swapped",
swapped_stage): swap TTA on the least certain rows only. Its out-of-fold predictions are the
member's swapped pass that cross-validation saved beside the one-order one (ORDER_FILES), and its
stage blend weighs the two orders (with the stages before) on the rows it sees, as swap-averaging
would with equal weights. It costs what the member's one-order pass costs per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from arenakit.core.schema import N_CLASSES
from arenakit.core.settings import SettingError
from arenakit.ensemble.blend import Blend, checked_predictions, fit_blend, predicted_rows
from arenakit.evaluation.metrics import log_loss

MEASURE = "entropy"
CASCADE = "cascade"  # its label among the blend choice's candidates
SWAPPED = ":swapped"  # a stage name's suffix: the A/B-swapped pass of the member it names
_FLOOR = 1e-12


def swapped_stage(name: str) -> str:
    """The stage that runs `name`'s A/B-swapped pass."""
    return f"{name}{SWAPPED}"


def member_of(stage: str) -> str:
    """The model a stage runs: its own name, or the member whose swapped pass it is."""
    return stage.removesuffix(SWAPPED)


def is_swapped(stage: str) -> bool:
    return stage.endswith(SWAPPED)


def entropy(proba: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row's prediction: 0 when sure, ln 3 when uniform."""
    proba = np.clip(np.asarray(proba, dtype=np.float64), _FLOOR, 1.0)
    return -(proba * np.log(proba)).sum(axis=1)


def threshold_for_share(measure: np.ndarray, share: float) -> float:
    """The threshold above which the count of rows comes closest to `share` of them, midway between two values.

    Rows of equal measure go together (those where the cheap member gave the same prediction), so the
    share is met as closely as the ties allow. +inf: no row; -inf: every row.
    """
    n_in = int(round(share * len(measure)))
    if n_in <= 0:
        return np.inf
    if n_in >= len(measure):
        return -np.inf
    values, counts = np.unique(measure, return_counts=True)
    values, above = values[::-1], np.cumsum(counts[::-1])  # above[i]: rows with measure >= values[i]
    i = int(np.argmin(np.abs(above - n_in)))
    if abs(n_in) <= abs(above[i] - n_in):  # no row comes closer than some of them
        return np.inf
    return -np.inf if i + 1 == len(values) else float((values[i] + values[i + 1]) / 2)


def check_cascade(cascade, names) -> dict[str, float]:
    """The `cascade` parameter checked: None, or a dict from a model of the run (or its swapped pass,
    "name:swapped") to the share of rows it takes (a number from 0 to 1); a misspelt name would leave
    that model on every row unnoticed."""
    if cascade is None:
        return {}
    example = (
        "e.g. {'deberta_lora': 0.3}: deberta_lora on the 30% of rows the cheaper models are least sure of; "
        "{'deberta_lora:swapped': 0.3}: deberta_lora one order on every row, its swapped pass on the 30% least sure"
    )
    if not isinstance(cascade, Mapping):
        raise SettingError(f"cascade={cascade!r}: cascade takes a dict from model name to a share of rows, {example}")
    unknown = sorted(name for name in cascade if not isinstance(name, str) or member_of(name) not in names)
    if unknown:
        raise SettingError(
            f"cascade= names {', '.join(map(repr, unknown))}, not a model of this run (or its swapped pass, "
            f"name{SWAPPED}); its models are {', '.join(map(repr, names))}: correct the name"
        )
    for name, share in cascade.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise SettingError(f"cascade[{name!r}]={share!r}: a share of rows is a number from 0 to 1, {example}")
    return {name: float(share) for name, share in cascade.items()}


@dataclass(frozen=True)
class CascadeSpec:
    """The stages in order (stage 1 runs on every row) and the share of rows each later one asks for."""

    order: tuple[str, ...]
    shares: Mapping[str, float] = field(default_factory=dict)  # a later member not named: every row
    required: frozenset[str] = frozenset()  # members the time budget allows only in the cascade, on their share

    def share(self, name: str) -> float:
        return 1.0 if name == self.order[0] else float(self.shares.get(name, 1.0))

    def with_share(self, name: str, share: float) -> CascadeSpec:
        return replace(self, shares={**self.shares, name: share})


def cascade_spec(costs: Mapping[str, float], shares: Mapping[str, float] | None, required=()) -> CascadeSpec:
    """Members in order of cost per row (costs: name -> seconds per row, in the members' order on a tie),
    the cheapest that runs on every row first. A member with no share given runs on every row; a swapped
    stage comes after its member, which costs the same per row."""
    shares = {name: float(share) for name, share in (shares or {}).items() if name in costs}
    alone = [name for name in costs if is_swapped(name) and member_of(name) not in costs]
    if alone:
        raise ValueError(f"cascade: {alone[0]} is a swapped pass; its member must be a stage before it")
    # Stable: the members' order breaks ties, and a swapped pass follows the one order it re-reads.
    ranked = sorted(costs, key=lambda name: (costs[member_of(name)], is_swapped(name)))
    every_row = [name for name in ranked if shares.get(name, 1.0) >= 1.0]
    if not every_row:
        raise ValueError(
            f"cascade: every member has a share below 1 ({', '.join(f'{n} {s}' for n, s in shares.items())}); "
            "one must run on every row (leave the cheapest out of `cascade`)"
        )
    if is_swapped(every_row[0]):
        raise ValueError(f"cascade: {every_row[0]} is a swapped pass; its member must be a stage before it")
    order = (every_row[0], *(name for name in ranked if name != every_row[0]))
    return CascadeSpec(order, {name: shares.get(name, 1.0) for name in order[1:]}, frozenset(required))


@dataclass
class Stage:
    name: str
    share: float  # of the out-of-fold rows, asked for
    threshold: float  # rows whose entropy before this stage is at least this go to it
    blend: Blend | None  # fitted on the rows it saw; None: it saw none
    oof_rows: int = 0
    oof_log_loss_before: float = np.nan  # on its rows, before this stage
    oof_log_loss: float = np.nan  # on its rows, after it
    # At most this share of any rows (the most uncertain), when the time budget counted on it: a test
    # less certain than the OOF rows must not overrun Kaggle's limit. None: the threshold alone.
    cap: float | None = None

    def route(self, measure: np.ndarray) -> np.ndarray:
        """The rows this stage sees: measure at or above its threshold, at most `cap` of them, most uncertain first."""
        rows = measure >= self.threshold
        most = int(np.ceil(self.cap * len(measure))) if self.cap is not None else len(measure)
        if rows.sum() > most:
            rows = np.zeros(len(measure), dtype=bool)
            rows[np.argsort(-measure, kind="stable")[:most]] = True
        return rows

    def record(self, n_rows: int) -> dict:
        return {
            "model": self.name,
            "share_asked": self.share,
            "threshold": None if not np.isfinite(self.threshold) else self.threshold,
            "every_row": bool(self.threshold == -np.inf),
            "cap": self.cap,
            "oof_rows": self.oof_rows,
            "oof_share": self.oof_rows / n_rows if n_rows else 0.0,
            "oof_log_loss_before": None if np.isnan(self.oof_log_loss_before) else self.oof_log_loss_before,
            "oof_log_loss": None if np.isnan(self.oof_log_loss) else self.oof_log_loss,
            "blend": None if self.blend is None else self.blend.to_dict(),
        }


@dataclass
class Cascade:
    """Fitted stages; used where a Blend is (used, predict, table, to_dict)."""

    stages: list[Stage]
    n_rows: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    @property
    def used(self) -> tuple[str, ...]:
        """Members whose predictions some row may need: stage 1 and each later stage with a blend using it."""
        used = {self.stages[0].name}
        for stage in self.stages[1:]:
            if stage.blend is not None and stage.threshold < np.inf:
                used |= set(stage.blend.used)
        return tuple(name for name in self.names if name in used)

    def _walk(self, probas: Mapping[str, np.ndarray], until: str | None = None, gaps: bool = False):
        """(prediction so far, rows seen per member) after each stage before `until` (all stages: None).

        gaps: out-of-fold predictions of a member trained on some folds, NaN on its other rows: a routed
        row it did not predict is not seen by it (and keeps the stages before when no member of the
        stage's blend saw it). Without gaps, a routed row without a prediction is an error.
        """
        first = self.stages[0]
        current = first.blend.predict({first.name: _checked(probas, first.name, None)})
        seen = {first.name: np.ones(len(current), dtype=bool)}
        for stage in self.stages[1:]:
            if stage.name == until:
                break
            rows = stage.route(entropy(current))
            seen[stage.name] = rows & predicted_rows(probas[stage.name]) if gaps and stage.name in probas else rows
            if stage.blend is None or not rows.any():
                continue
            inputs = {
                name: np.where(
                    seen[name][:, None], probas[name] if gaps else _checked(probas, name, seen[name]), np.nan
                )[rows]
                for name in stage.blend.used
            }
            keep = np.column_stack([predicted_rows(p) for p in inputs.values()]).any(axis=1)
            current[np.flatnonzero(rows)[keep]] = stage.blend.predict({name: p[keep] for name, p in inputs.items()})
        return current, seen

    def rows_for(self, name: str, probas: Mapping[str, np.ndarray], n_rows: int | None = None) -> np.ndarray:
        """Which of the n_rows rows `name` must predict, from the predictions of the stages before it
        (n_rows: needed for stage 1 only, which has none before it and takes every row)."""
        if name == self.stages[0].name:
            return np.ones(len(probas[name]) if n_rows is None else n_rows, dtype=bool)
        current, _ = self._walk(probas, until=name)
        stage = next(stage for stage in self.stages if stage.name == name)
        return stage.route(entropy(current))

    def predict(self, probas: Mapping[str, np.ndarray], gaps: bool = False) -> np.ndarray:
        """Each row's prediction: the blend of the members that saw it (a member's other rows may be NaN).
        gaps: out-of-fold predictions, where a member trained on some folds did not predict every routed row."""
        return self._walk(probas, gaps=gaps)[0]

    def shares(self, probas: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Share of these rows each stage saw."""
        _, seen = self._walk(probas)
        return {name: float(rows.mean()) for name, rows in seen.items()}

    def table(self) -> pd.DataFrame:
        """Per model: its weight and temperature in the last blend that uses it, and the stage's share and rows."""
        weights = {}
        for stage in self.stages:
            if stage.blend is not None:
                weights.update(zip(stage.blend.names, zip(stage.blend.weights, stage.blend.temperatures)))
        return pd.DataFrame(
            {
                "weight": [weights.get(stage.name, (0.0, 1.0))[0] for stage in self.stages],
                "temperature": [weights.get(stage.name, (0.0, 1.0))[1] for stage in self.stages],
                "rows": [stage.oof_rows for stage in self.stages],
                "share": [stage.oof_rows / max(self.n_rows, 1) for stage in self.stages],
                "threshold": [stage.threshold for stage in self.stages],
            },
            index=list(self.names),
        )

    def to_dict(self) -> dict:
        return {
            "kind": CASCADE,
            "measure": MEASURE,
            "stages": [stage.record(self.n_rows) for stage in self.stages],
            "n_rows": int(self.n_rows),
        }


def _checked(probas: Mapping[str, np.ndarray], name: str, rows: np.ndarray | None) -> np.ndarray:
    if name not in probas:
        raise KeyError(f"the cascade needs predictions of {name}; got {', '.join(probas)}")
    proba = np.asarray(probas[name], dtype=np.float64)
    needed = np.ones(len(proba), dtype=bool) if rows is None else rows
    missing = needed & ~predicted_rows(proba)
    if missing.any():
        raise ValueError(
            f"the cascade routed {int(needed.sum())} row(s) to {name}, and {int(missing.sum())} of them have no "
            f"prediction from it: predict every row of cascade.rows_for({name!r}, ...)"
        )
    return proba


def fit_cascade(
    y, probas: Mapping[str, np.ndarray], spec: CascadeSpec, cache: dict | None = None, **options
) -> Cascade:
    """Thresholds and one blend per stage on out-of-fold rows, routed as test rows will be (options: fit_blend's).

    cache: fitted stages by the shares up to them, for fits on the same rows (a curve over one stage's share
    refits only that stage and those after it).
    """
    y, probas = checked_predictions(y, probas)
    cache = {} if cache is None else cache
    first = spec.order[0]
    if not predicted_rows(probas[first]).all():
        raise ValueError(f"cascade: its first stage, {first}, must have predicted every out-of-fold row")
    key: tuple = ((first, 1.0),)
    if key not in cache:
        # One model's temperature and the pool's compose into one: fit the pool's alone when both are asked for.
        first_options = {**options, "model_temperatures": options.get("model_temperatures", True)}
        if options.get("blend_temperature", True):
            first_options["model_temperatures"] = False
        blend = fit_blend(y, {first: probas[first]}, **first_options)
        current = blend.predict({first: probas[first]})
        stage = Stage(first, 1.0, -np.inf, blend, len(y), log_loss(y, current), log_loss(y, current))
        cache[key] = (stage, current, {first: np.ones(len(y), dtype=bool)})
    for name in spec.order[1:]:
        previous = cache[key]
        key = (*key, (name, spec.share(name), name in spec.required))
        if key not in cache:
            cap = spec.share(name) if name in spec.required else None
            cache[key] = _fit_stage(y, probas, name, spec.share(name), cap, previous[1], previous[2], options)
    stages, prefix = [], ()
    for item in key:
        prefix = (*prefix, item)
        stages.append(cache[prefix][0])
    return Cascade(stages, len(y))


def _fit_stage(y, probas, name: str, share: float, cap, current: np.ndarray, seen: dict, options: dict):
    """(the stage, the prediction after it, rows seen per member) for a later stage of this share."""
    current, seen = current.copy(), dict(seen)
    measure = entropy(current)
    threshold = threshold_for_share(measure, share)
    stage = Stage(name, share, threshold, None, cap=cap)
    rows = stage.route(measure)
    stage.oof_rows = int(rows.sum())
    seen[name] = rows & predicted_rows(probas[name])  # a member trained on some folds: its own rows
    # Each member that saw some of these rows, on the rows it saw; stage 1 saw them all.
    inputs = {
        member: np.where(seen[member][:, None], probas[member], np.nan)[rows]
        for member in seen
        if (seen[member] & rows).any()
    }
    if rows.any():
        stage.oof_log_loss_before = log_loss(y[rows], current[rows])
        stage.blend = fit_blend(y[rows], inputs, **options)
        current[rows] = stage.blend.predict(inputs)
        stage.oof_log_loss = log_loss(y[rows], current[rows])
    return stage, current, seen


def cross_fitted_cascade(
    y,
    probas: Mapping[str, np.ndarray],
    spec: CascadeSpec,
    n_splits: int,
    seed: int,
    caches: dict | None = None,
    **options,
):
    """Each row predicted by the cascade fitted (thresholds and blends) on the other parts of the rows
    (caches: fit_cascade's cache per part, kept between calls on the same rows)."""
    y, probas = checked_predictions(y, probas)
    caches = {} if caches is None else caches
    part = np.random.default_rng(seed).permutation(len(y)) % n_splits  # the parts choice.py cross-fits on
    pooled = np.empty((len(y), N_CLASSES))
    for k in range(n_splits):
        held_out = part == k
        fitting = {name: p[~held_out] for name, p in probas.items()}
        cascade = fit_cascade(y[~held_out], fitting, spec, caches.setdefault(k, {}), **options)
        held = {name: p[held_out] for name, p in probas.items()}
        # A partial member's held-out rows it did not predict: the stages before it stand for it there.
        pooled[held_out] = cascade.predict(held, gaps=True)
    return pooled
