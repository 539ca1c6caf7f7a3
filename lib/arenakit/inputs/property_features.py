"""LLM-judged property features: each side's ratings from an annotation file, and their A-B differences.

    ratings = PropertyRatings.from_file("build/annotations.jsonl")            # the file's only judge
    ratings = PropertyRatings.from_file(path, judge="openai:llama-70b")       # one of several
    table = ratings.features(frame)                                           # index = the frame's index

Columns follow arenakit.inputs.features' naming, so swap_features swaps them like the surface
features: judge_<property>_a / judge_<property>_b (the rating, 0-3 or 0/1), diff_judge_<property>
(A minus B, negated by the swap), and judge_rated_a / judge_rated_b (1 when that side's response
has an ok record of the chosen judge, else 0). A response without an ok record, or with a null
rating, gets NaN: LightGBM routes missing values natively; the baseline imputes them (see
arenakit.models.baseline). Annotation is per response, so a row's swap has exactly the swapped ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.data.annotations import RatingSource, choose_source, property_names, read_annotations, side_ratings

PREFIX = "judge_"
RATED = "rated"  # judge_rated_a / _b: the side's response has an ok record


@dataclass(frozen=True)
class PropertyRatings:
    """The ratings of one judge (under one taxonomy and prompt version) in one annotation file."""

    path: str
    source: RatingSource
    names: tuple[str, ...]

    @classmethod
    def from_file(cls, path: Path | str, judge: str | None = None) -> PropertyRatings:
        """The file's only (judge, key tag), or the one `judge` names (a clear error naming the file otherwise)."""
        records = read_annotations(path)
        source = choose_source(records, path, judge)
        return cls(str(path), source, property_names(records, source))

    def columns(self) -> list[str]:
        names = (*self.names, RATED)
        return [f"{PREFIX}{name}_{side}" for side in "ab" for name in names] + [
            f"diff_{PREFIX}{name}" for name in self.names
        ]

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The property columns of these rows (float32; NaN where a response has no rating)."""
        records = read_annotations(self.path)
        columns = {}
        sides = {side: side_ratings(frame, side, records, self.source, self.names) for side in "ab"}
        for side, (ratings, rated) in sides.items():
            for index, name in enumerate(self.names):
                columns[f"{PREFIX}{name}_{side}"] = ratings[:, index]
            columns[f"{PREFIX}{RATED}_{side}"] = rated.astype(np.float64)
        for index, name in enumerate(self.names):
            # float64 until the end, as surface_features: the swap's 0 - x is then exact.
            columns[f"diff_{PREFIX}{name}"] = sides["a"][0][:, index] - sides["b"][0][:, index]
        table = pd.DataFrame({name: np.asarray(values, np.float32) for name, values in columns.items()})
        return table.set_axis(frame.index)[self.columns()]

    def check_covers(self, frame: pd.DataFrame) -> None:
        """Refuse training rows none of whose responses this judge rated: the file rates other data."""
        records = read_annotations(self.path)
        if any(side_ratings(frame, side, records, self.source, ())[1].any() for side in "ab"):
            return
        raise ValueError(
            f"{self.path}: none of the {len(frame)} training rows' responses has an ok record of "
            f"{self.source.name!r}; the file rates other rows (or other texts: records are keyed by the exact "
            "prompt and response). Annotate these rows with python -m arenakit.annotate, or set properties=None."
        )
