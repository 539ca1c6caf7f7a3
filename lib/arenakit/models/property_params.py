"""The `properties` and `properties_judge` parameters of the feature models (baseline, minilm_lgbm).

    model = BaselineModel(properties="build/annotations.jsonl")               # the file's only judge
    model = MiniLMLightGBMModel(properties=path, properties_judge="openai:llama-70b")
    load_model(folder, properties="/kaggle/input/annotations/annotations.jsonl")   # a path is never restored

A model fitted with property features remembers whose ratings they were (judge, key tag) and which
properties, so new rows are looked up under the same judge whatever else the file holds later.
`properties` is a path of the machine that fitted the model: load_model never takes it from
model.json, so a loaded model is given it again (a load override, or the ensemble's inference=).
"""

from __future__ import annotations

import pandas as pd

from arenakit.core.settings import text
from arenakit.data.annotations import RatingSource
from arenakit.inputs.property_features import PropertyRatings

PROPERTY_SETTINGS = {
    "properties": text(optional=True, none="no property features"),
    "properties_judge": text(optional=True, none="the annotation file's only judge"),
}


class UsesProperties:
    """Mixed into an ArenaModel with `properties` and `properties_judge` parameters."""

    properties: str | None
    properties_judge: str | None

    def _fit_properties(self, frame: pd.DataFrame) -> PropertyRatings | None:
        """The ratings to fit with (checked to cover the training rows), remembered for prediction."""
        if self.properties is None:
            self.properties_fitted_ = None
            return None
        ratings = PropertyRatings.from_file(self.properties, self.properties_judge)
        ratings.check_covers(frame)
        self.properties_fitted_ = {
            "judge": ratings.source.judge,
            "key_tag": ratings.source.key_tag,
            "names": list(ratings.names),
        }
        return ratings

    def property_ratings(self) -> PropertyRatings | None:
        """The ratings the model reads: the fitted judge's once fitted, else the file's (None: no properties)."""
        if not hasattr(self, "properties_fitted_"):
            return (
                None if self.properties is None else PropertyRatings.from_file(self.properties, self.properties_judge)
            )
        fitted = self.properties_fitted_
        if fitted is None:
            return None
        if self.properties is None:
            raise ValueError(
                f"{type(self).__name__} was fitted with the property features of "
                f"{RatingSource(fitted['judge'], fitted['key_tag']).name!r}: pass properties=<its annotation file> "
                "(load_model(folder, properties=FILE), or the ensemble's inference=) so that new rows get their ratings"
            )
        return PropertyRatings(
            self.properties, RatingSource(fitted["judge"], fitted["key_tag"]), tuple(fitted["names"])
        )

    def _properties_state(self) -> dict:
        return {"properties": self.properties_fitted_}

    def _load_properties_state(self, extras: dict) -> None:
        # Models saved before property features existed hold no entry: they use none.
        self.properties_fitted_ = extras.get("properties")
