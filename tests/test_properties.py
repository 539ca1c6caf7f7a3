"""LLM-judged property features (issue 25): planted ratings lower the OOF, swap exactly, and fail clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenakit.core.swap import swap_proba
from arenakit.data import load_competition, swap_ab
from arenakit.data.annotations import AnnotationFileError
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.inputs.features import swap_features
from arenakit.inputs.property_features import PropertyRatings
from arenakit.models import load_model
from arenakit.models.baseline import BaselineModel
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate
from property_helpers import JUDGE, write_planted_annotations

N_ROWS = 300


@pytest.fixture(scope="module")
def train(synthetic_dir):
    return load_competition(synthetic_dir).train.iloc[:N_ROWS].reset_index(drop=True)


@pytest.fixture(scope="module")
def annotations(train, tmp_path_factory):
    return write_planted_annotations(tmp_path_factory.mktemp("annotations") / "annotations.jsonl", train)


def test_planted_properties_lower_the_baseline_oof(train, annotations):
    folds = assign_folds(train["label"].to_numpy(), prompt_groups(train), n_folds=3, seed=0)
    # Two candidate C values (not the default seven): the inner search is not what this measures.
    plain = cross_validate(BaselineModel(Cs=(0.03, 0.3)), train, folds, name="baseline", progress=False)
    judged = BaselineModel(Cs=(0.03, 0.3), properties=str(annotations))
    judged = cross_validate(judged, train, folds, name="baseline", progress=False)
    # The planted rating follows the label three times in four; the surface features know little of it.
    assert judged.metrics["oof_log_loss"] < plain.metrics["oof_log_loss"] - 0.2
    assert judged.oof.shape == (N_ROWS, 3) and np.isfinite(judged.oof).all()  # unrated rows predicted too
    model = judged.ensemble.models[0]
    assert "diff_judge_information_richness" in model.columns_ and "judge_rated_a" in model.columns_
    # A missing rating becomes the training mean, the same for both sides; a missing difference 0.
    fill = dict(zip(model.columns_, model.fill_))
    assert fill["judge_information_richness_a"] == fill["judge_information_richness_b"] > 0
    assert fill["diff_judge_information_richness"] == 0


def test_property_features_swap_exactly_and_mark_unrated_rows(train, annotations):
    ratings = PropertyRatings.from_file(annotations)
    assert ratings.source.judge == JUDGE and ratings.names == (
        "information_richness",
        "harmlessness",
        "clarifies_intent",
    )
    features = ratings.features(train)
    swapped = ratings.features(swap_ab(train))
    pd.testing.assert_frame_equal(swapped, swap_features(features), check_exact=True)
    unrated = features["judge_rated_a"] == 0
    assert 0 < unrated.mean() < 0.3 and features.loc[unrated, "judge_harmlessness_a"].isna().all()
    assert features.loc[~unrated, "judge_harmlessness_a"].notna().all()
    # The fitted baseline reads them symmetrically: swap-averaged predictions swap exactly.
    model = BaselineModel(properties=str(annotations), C=0.1).fit(train)
    rows = train.iloc[:40]
    np.testing.assert_allclose(model.predict_proba(swap_ab(rows)), swap_proba(model.predict_proba(rows)), atol=1e-9)


def test_minilm_lgbm_reads_missing_ratings_natively_and_needs_the_file_again(train, annotations, tmp_path):
    # Rows of test_models' MiniLM run at the default token cap: in a full run their embeddings are cached.
    rows = train.iloc[:80]
    params = dict(max_rounds=20, early_stopping_rounds=5, min_child_samples=5)
    model = MiniLMLightGBMModel(properties=str(annotations), **params).fit(rows)
    table = model.features(rows)
    assert table["judge_information_richness_a"].isna().any()  # NaN reaches LightGBM, not a filled value
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(model.predict_proba(swap_ab(rows)), swap_proba(proba), atol=1e-9)
    model.save(tmp_path / "model")
    # The path is never taken from model.json: a load without it says what to pass.
    with pytest.raises(ValueError, match=f"property features of '{JUDGE}.*pass properties="):
        load_model(tmp_path / "model").predict_proba(rows)
    again = load_model(tmp_path / "model", properties=str(annotations))
    np.testing.assert_allclose(again.predict_proba(rows), proba, atol=1e-12)


def test_several_judges_need_a_choice_and_other_data_is_refused(train, annotations, tmp_path):
    both = tmp_path / "both.jsonl"
    both.write_bytes(annotations.read_bytes())
    write_planted_annotations(both, train.iloc[:50], judge="openai:other")
    with pytest.raises(AnnotationFileError, match=f"{both}: ratings of 2 judges.*properties_judge="):
        BaselineModel(properties=str(both)).fit(train)
    chosen = BaselineModel(properties=str(both), properties_judge="openai:other", C=0.1).fit(train.iloc[:50])
    assert chosen.properties_fitted_["judge"] == "openai:other"
    with pytest.raises(AnnotationFileError, match="properties_judge='nobody' matches none"):
        BaselineModel(properties=str(both), properties_judge="nobody").fit(train)
    with pytest.raises(ValueError, match="none of the 50 training rows' responses has an ok record"):
        # Records are keyed by the exact texts: rows whose prompts differ have none.
        BaselineModel(properties=str(annotations)).fit(train.iloc[:50].assign(prompt=lambda f: f["prompt"] + "!"))
    with pytest.raises(FileNotFoundError, match="no annotation file there"):
        BaselineModel(properties=str(tmp_path / "missing.jsonl")).fit(train)
