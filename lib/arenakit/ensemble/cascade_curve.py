"""What a cascade buys: honest log loss and estimated time against the share of rows routed to each later member.

    curve = cascade_curve(y, oofs, spec, costs={"baseline": (0.5, 1e-4), ...}, n_rows=25_000)
    plot_cascade_curve(curve)          # arenakit.evaluation.plots

For each later member in turn, its share goes from 0 to 1 with the others' as in `spec`; each point
is the cascade's cross-fitted out-of-fold log loss (thresholds and stage blends fitted on four
fifths of the rows, scored on the fifth, as the blend choice scores it) and the time inference on
n_rows test rows would take with those shares on this machine (costs: the timer's fixed seconds and
seconds per row of each member). Share 0 is the stages before it alone; share 1 is every row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from arenakit.ensemble.cascade import CascadeSpec, cross_fitted_cascade
from arenakit.ensemble.choice import N_SPLITS
from arenakit.evaluation.metrics import log_loss

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)  # each point is a cross-fitted cascade: a few suffice to read the curve


def cascade_seconds(spec: CascadeSpec, costs: Mapping[str, tuple[float, float]], n_rows: int) -> float:
    """Estimated inference seconds for n_rows with the spec's shares (a stage of share 0 is not loaded)."""
    total = 0.0
    for name in spec.order:
        fixed, per_row = costs.get(name, (0.0, 0.0))
        share = spec.share(name)
        total += (fixed if share > 0 else 0.0) + per_row * share * n_rows
    return total


def cascade_curve(
    y,
    probas: Mapping[str, np.ndarray],
    spec: CascadeSpec,
    costs: Mapping[str, tuple[float, float]],
    n_rows: int,
    shares=SHARES,
    n_splits: int = N_SPLITS,
    seed: int = 0,
    **options,
) -> pd.DataFrame:
    """One row per (later member, share): log_loss (cross-fitted), seconds, and whether it is the spec's point."""
    y = np.asarray(y)
    rows, caches = [], {}  # the stages before the one varied are fitted once per part
    for name in spec.order[1:]:
        chosen = spec.share(name)
        for share in sorted({*map(float, shares), chosen}):
            varied = spec.with_share(name, share)
            oof = cross_fitted_cascade(y, probas, varied, n_splits, seed, caches, **options)
            rows.append(
                {
                    "model": name,
                    "share": share,
                    "log_loss": log_loss(y, oof),
                    "seconds": cascade_seconds(varied, costs, n_rows),
                    "chosen": share == chosen,
                    "rows": n_rows,
                }
            )
    return pd.DataFrame(rows, columns=["model", "share", "log_loss", "seconds", "chosen", "rows"])
