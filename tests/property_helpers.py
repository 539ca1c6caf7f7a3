"""Annotation files whose ratings a stub judge planted in correlation with the label (written with the records module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.annotate.records import RecordStore
from arenakit.data.annotations import response_keys
from arenakit.data.taxonomy import load_taxonomy

JUDGE = "stub:planted"
KEY_TAG = "preference-properties@1/prompt1"
# The winner's rating of the planted property, the loser's, and both sides' in a tie.
WINNER, LOSER, TIE = 3, 0, 2


def planted_ratings(label: int, side: str, rng: np.random.Generator, names) -> dict:
    """The planted property follows the label (a quarter of the time a random rating); the others are noise."""
    taxonomy = {p.name: p for p in load_taxonomy().properties}
    ratings = {name: int(rng.choice(taxonomy[name].values)) for name in names}
    won = label == 2 or (label == 0) == (side == "a")
    planted = TIE if label == 2 else (WINNER if won else LOSER)
    ratings[names[0]] = planted if rng.random() > 0.25 else int(rng.integers(0, 4))
    return ratings


def write_planted_annotations(
    path: Path,
    frame: pd.DataFrame,
    seed: int = 0,
    unrated: float = 0.15,
    names=("information_richness", "harmlessness", "clarifies_intent"),
    judge: str = JUDGE,
) -> Path:
    """One record per distinct response of the frame: ok with planted ratings, or (a share `unrated`) unparsable."""
    rng = np.random.default_rng(seed)
    store = RecordStore(path)
    seen = set()
    for side in "ab":
        for key, label in zip(response_keys(frame, side, KEY_TAG, judge), frame["label"]):
            if key in seen:
                continue
            seen.add(key)
            ok = rng.random() >= unrated
            store.append(
                {
                    "key": key,
                    "taxonomy": KEY_TAG.split("/")[0],
                    "key_tag": KEY_TAG,
                    "judge": judge,
                    "outcome": "ok" if ok else "unparsable",
                    "ratings": planted_ratings(int(label), side, rng, names) if ok else {},
                    "raw": None if ok else "not json",
                }
            )
    store.close()
    return path
