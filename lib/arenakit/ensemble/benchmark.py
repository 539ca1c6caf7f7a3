"""How long would inference on n test rows take on this machine? Each model timed on train rows, extrapolated.

    benchmark(run.members, competition, n_rows=25_000, timing_rows=512, swap_average=True)

The notebook's `benchmark_rows` parameter calls this: an estimate for Kaggle's hidden test
(about 25,000 rows) before submitting. Train rows stand in for test rows (real text, and many
of them); each model gets an empty embedding cache, so rows its training run embedded are
timed as new ones, as they are on Kaggle.
"""

from __future__ import annotations

import pandas as pd

from arenakit.ensemble.budget import Timer, format_seconds
from arenakit.ensemble.members import start_overrides
from arenakit.ensemble.run import TIMING_ROWS


def benchmark(
    members,
    competition,
    n_rows: int = 25_000,
    timing_rows: int = TIMING_ROWS,
    swap_average: bool = True,
    inference=None,
):
    """Estimated seconds per model for n_rows test rows, with the settings inference starts from
    (inference: per model, a profile name or settings, as EnsembleRun takes them)."""
    rows = competition.train[list(competition.test.columns)]
    timer = Timer(rows, timing_rows, fresh_cache=True)
    overrides = start_overrides(members, swap_average, inference)
    table = []
    for member in members:
        timing = timer.time(member, overrides[member.name])
        table.append(
            {
                "model": member.name,
                "load_s": timing.load_s,
                "ms_per_row": 1000 * timing.per_row_s,
                f"estimate_s_{n_rows}": timing.estimate(n_rows),
                "estimate": format_seconds(timing.estimate(n_rows)),
            }
        )
    table = pd.DataFrame(table).set_index("model")
    print(
        f"benchmark: {n_rows} test rows would take about {format_seconds(table[f'estimate_s_{n_rows}'].sum())} on "
        f"this machine (each model timed on {len(timer.timed_rows)} train rows with an empty cache; Kaggle allows 9 h)"
    )
    return table
