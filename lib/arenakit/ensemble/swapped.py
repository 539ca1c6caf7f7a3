"""Swap TTA on the least certain rows only: a member's A/B-swapped pass as a cascade stage.

    cascade={"gemma_judge:swapped": 0.3}   # gemma_judge one order on every row, its swapped pass on 30% of them

Swap-averaging doubles a judge's inference: the kit's estimate for Gemma-2-9B 8-bit on 2 x T4 is
6.2 h with it on every row, 3.1 h without. Most of what it buys sits on the rows the judge is
least sure of, so the swapped pass becomes a later stage of the cascade (arenakit.ensemble.cascade):
the member runs one order everywhere, and its swapped pass on the share of rows asked for (or the
share the time budget allows, arenakit.ensemble.budget). Fitting that stage needs the member's two
orders apart out-of-fold, which cross-validation saves when a model swap-averages (ORDER_FILES).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from arenakit.core.settings import SettingError
from arenakit.core.swap import swap_proba
from arenakit.data.competition import swap_ab
from arenakit.ensemble.cascade import is_swapped, member_of


def swap_stage_problem(member) -> str | None:
    """Why this member's swapped pass cannot be a cascade stage; None when it can."""
    if member.prototype is not None and member.prototype.symmetric:
        return f"{member.name} is symmetric under an A/B swap: its swapped pass gives the same numbers"
    if member.oof_orders is None:
        return (
            f"{member.folder} holds no out-of-fold predictions in each A/B order (oof_one_order.csv, "
            "oof_swapped.csv), which the stage is fitted on; cross-validation saves them when the model "
            "swap-averages: re-run its notebook with swap_average=True"
        )
    return None


def one_order_inference(cascade: Mapping[str, float], members, inference: Mapping) -> dict:
    """inference= with swap-averaging off for each member whose swapped pass is a stage of `cascade`
    (the stage adds that pass where it routes); a member's stage that cannot be is refused, saying why."""
    inference = dict(inference)
    by_name = {member.name: member for member in members}
    for stage in filter(is_swapped, cascade):
        name = member_of(stage)
        if name not in by_name:
            continue  # left out already, with its reason
        problem = swap_stage_problem(by_name[name])
        if problem:
            raise SettingError(f"cascade[{stage!r}]: {problem}")
        entry = inference.get(name)
        settings = {"profile": entry} if isinstance(entry, str) else dict(entry or {})
        one_order = by_name[name].prototype.one_order_settings()
        clash = {key: settings[key] for key, value in one_order.items() if settings.get(key, value) != value}
        if clash:
            asked = ", ".join(f"{key}={value!r}" for key, value in clash.items())
            raise SettingError(
                f"cascade[{stage!r}] runs {name}'s swapped pass on some rows, but inference[{name!r}] asks for "
                f"{asked}, both orders on every row: drop one of the two"
            )
        inference[name] = {**settings, **one_order}
    return inference


def order_predictions(member, ids: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """The member's one-order and swapped (mapped back) out-of-fold predictions on these ids (NaN where none)."""
    one_order, swapped = member.oof_orders
    return one_order.reindex(ids).to_numpy(), swapped.reindex(ids).to_numpy()


def predict_swapped(ensemble, frame: pd.DataFrame) -> np.ndarray:
    """The fold models' prediction on the A/B-swapped rows, mapped back to A/B order."""
    return swap_proba(ensemble.predict_proba(swap_ab(frame.reset_index(drop=True))))
