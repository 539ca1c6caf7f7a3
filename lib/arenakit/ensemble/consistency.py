"""Do this run's test predictions match those the model's training run stored for the same test ids?

    consistency(run.members, competition.test["id"], run.test_proba)

Locally the ids match and the gap should be ~0 (differences come only from changed settings,
e.g. swap-averaging turned off by the time budget, and from the 8 digits the CSV keeps); on
Kaggle's hidden test there is nothing stored to compare, and the gap is empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from arenakit.core.artifacts import TEST_FILE, load_prediction_frame


def consistency(members, test_ids, test_proba: dict[str, np.ndarray]) -> pd.DataFrame:
    """Largest gap per predicted model between test_proba and its stored test predictions (None: nothing to compare)."""
    ids = pd.Series(test_ids)
    rows = []
    for member in members:
        if member.name not in test_proba:
            continue
        stored_path = member.folder / TEST_FILE
        stored = load_prediction_frame(stored_path) if stored_path.is_file() else None
        same_ids = stored is not None and len(stored) == len(ids) and stored.index.isin(ids).all()
        proba = np.asarray(test_proba[member.name])
        predicted = np.isfinite(proba).all(axis=1)  # a cascade stage predicted its rows only
        gap = None
        if same_ids and predicted.any():
            gap = float(np.abs(stored.loc[ids.to_numpy()].to_numpy()[predicted] - proba[predicted]).max())
        rows.append({"model": member.name, "test_rows": int(predicted.sum()), "max_gap_vs_stored": gap})
    return pd.DataFrame(rows, columns=["model", "test_rows", "max_gap_vs_stored"]).set_index("model")
