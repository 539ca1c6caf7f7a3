"""The ensemble run's cascade: its stages (members, and swapped passes), their costs, the spec the blend
choice judges, the curve of what each later stage's share buys, and what blend.json records of it.

EnsembleRun (arenakit.ensemble.run) takes these methods; they read its members, plan, timer and choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from arenakit.ensemble.cascade import CascadeSpec, cascade_spec, is_swapped, member_of, swapped_stage
from arenakit.ensemble.cascade_curve import SHARES, cascade_curve


class CascadeStages:
    """The cascade half of EnsembleRun: stage names, costs, spec, curve and record."""

    def cascade_spec(self, oofs: Mapping | None = None, always: bool = False) -> CascadeSpec | None:
        """The cascade of the blended members (oofs: by name), cheapest per row first, with the shares the
        budget set or `cascade` asked for; None when neither did (always: a spec with every share at 1)."""
        names = [name for name in self._stage_names() if oofs is None or name in oofs]
        shares = {name: share for name, share in self._shares().items() if name in names}
        if len(names) < 2 or not (shares or always):
            return None
        costs = {name: per_row for name, (_, per_row) in self.stage_costs().items()}
        # A swapped pass serves no other candidate: with it on every row, it would be swap-averaging.
        required = [*self._only_in_cascade(shares), *filter(is_swapped, shares)]
        return cascade_spec({name: costs[name] for name in names}, shares, required)

    def _stage_names(self) -> list[str]:
        """The members, each followed by its swapped pass where the budget or `cascade` made that a stage."""
        shares = self._shares()
        return [
            stage for name in self.names for stage in (name, swapped_stage(name)) if stage == name or stage in shares
        ]

    def _only_in_cascade(self, shares: dict[str, float]) -> list[str]:
        """Models on a share of the rows that would not fit the budget on every row: no other candidate may
        use them (the budget cascaded them, or a `cascade` share is what kept them within it)."""
        if self.plan is None or math.isinf(self.plan.budget_s):
            return []
        test = len(self.competition.test)
        return [
            name
            for name in shares
            if not is_swapped(name)
            and self.plan.total_s
            - self.plan.estimates[name]
            + self.timer.time(next(m for m in self.members if m.name == name), self._settings(name)).estimate(test)
            > self.plan.budget_s
        ]

    def stage_costs(self) -> dict[str, tuple[float, float]]:
        """Each stage's timed (fixed seconds, seconds per row) with its planned settings; zeros before plan_budget.
        A swapped pass costs its member's per row, its model already loaded."""
        timings = self.timer.timings if self.timer is not None else {}
        costs = {}
        for name in self._stage_names():
            timing = timings.get((member_of(name), tuple(sorted(self._settings(name).items()))))
            fixed = 0.0 if is_swapped(name) or not timing else timing.load_s + timing.warmup_s
            costs[name] = (fixed, timing.per_row_s) if timing else (0.0, 0.0)
        return costs

    def cascade_curve(self, n_rows: int | None = None, shares=SHARES) -> pd.DataFrame:
        """Cross-fitted OOF log loss and estimated seconds for n_rows test rows (None: this test.csv's) against
        each later member's share of the rows, the chosen shares marked (empty with fewer than two members)."""
        if self.fit_rows is None:
            raise RuntimeError("call fit_blend() before cascade_curve(): the curve is fitted on its out-of-fold rows")
        y, oofs = self.fit_rows
        spec = self.cascade_spec(oofs, always=True)
        if spec is None:
            return pd.DataFrame(columns=["model", "share", "log_loss", "seconds", "chosen", "rows"])
        n_rows = len(self.competition.test) if n_rows is None else n_rows
        with self._timed("cascade curve"):
            return cascade_curve(y, oofs, spec, self.stage_costs(), n_rows, shares, **self.blend_options)

    def _shares(self) -> dict[str, float]:
        return dict(self.plan.shares) if self.plan is not None else dict(self.cascade)

    def _cascade_record(self) -> dict | None:
        """The cascade candidate's stages (thresholds, OOF rows and log loss), the share of test rows each
        saw once predicted, and whether it was chosen; None when there was no cascade."""
        candidate = self.choice.cascade if self.choice is not None else None
        if candidate is None:
            return None
        record = {**candidate.to_dict(), "chosen": candidate is self.blend, "asked": self._shares()}
        if candidate is self.blend and all(name in self.test_proba for name in candidate.used):
            test_shares = candidate.shares(self.test_proba)
            for stage in record["stages"]:
                stage["test_share"] = test_shares.get(stage["model"])
                stage["test_rows"] = round(test_shares.get(stage["model"], 0.0) * len(self.competition.test))
        return record
