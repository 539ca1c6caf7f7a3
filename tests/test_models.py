"""The baseline and MiniLM + LightGBM estimators: learning, symmetry, save/load, quality on real rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arenakit.core.swap import swap_proba
from arenakit.data import load_competition, swap_ab
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.evaluation.metrics import log_loss
from arenakit.inputs import formatting
from arenakit.inputs.embedder import KINDS, text_keys
from arenakit.inputs.features import swap_features
from arenakit.models import FoldEnsemble, load_model
from arenakit.models.baseline import BaselineModel
from arenakit.models.minilm_lgbm import TEXT_SETS, MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate

UNIFORM = np.log(3)


@pytest.fixture(scope="module")
def synthetic(synthetic_dir):
    competition = load_competition(synthetic_dir)
    train = competition.train
    folds = assign_folds(train["label"].to_numpy(), prompt_groups(train), n_folds=3, seed=0)
    return train, competition.test, folds


@pytest.fixture(scope="module")
def real_rows(real_sample_dir):
    train = load_competition(real_sample_dir).train
    return train, assign_folds(train["label"].to_numpy(), prompt_groups(train), n_folds=5, seed=42)


def check_probabilities(proba, n):
    assert proba.shape == (n, 3) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def check_symmetric(model, frame):
    # Swap-averaged predictions on swapped rows are the original ones with A and B exchanged.
    np.testing.assert_allclose(model.predict_proba(swap_ab(frame)), swap_proba(model.predict_proba(frame)), atol=1e-9)


def test_baseline_learns_the_synthetic_rule(synthetic):
    train, test, folds = synthetic
    run = cross_validate(BaselineModel(), train, folds, test=test, name="baseline", progress=False)
    assert run.metrics["oof_log_loss"] < UNIFORM - 0.03
    assert run.metrics["oof_log_loss"] == pytest.approx(log_loss(train["label"].to_numpy(), run.oof))
    check_probabilities(run.oof, len(train))
    check_probabilities(run.test_proba, len(test))
    model = run.ensemble.models[0]
    assert model.C_ in model.Cs and len(model.C_scores_) == len(model.Cs)
    check_symmetric(model, test)
    # Trained on both orders, a logistic regression on these features is symmetric in one order too, to
    # float noise (about 1e-13; without swap augmentation it is above 1e-3, the next test).
    assert model.swap_asymmetry(test) < 1e-6


def test_baseline_without_swap_tricks_is_not_symmetric(synthetic):
    train, test, _ = synthetic
    model = BaselineModel(C=0.1, swap_augment=False, swap_average=False).fit(train)
    assert model.C_ == 0.1 and model.C_scores_ == {}
    assert model.swap_asymmetry(test) > 0.001
    np.testing.assert_array_equal(model.predict_proba(test), model.predict_one_order(test))


def test_baseline_save_load_round_trip(synthetic, tmp_path):
    train, test, folds = synthetic
    run = cross_validate(BaselineModel(C=0.01), train, folds, name="baseline", progress=False)
    run.ensemble.save(tmp_path / "folds")
    loaded = FoldEnsemble.load(tmp_path / "folds")
    assert len(loaded.models) == 3
    np.testing.assert_allclose(loaded.predict_proba(test), run.ensemble.predict_proba(test), atol=1e-12)
    record = json.loads((tmp_path / "folds" / "fold_0" / "model.json").read_text())
    record["state"]["features_version"] = -1
    (tmp_path / "folds" / "fold_0" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="features version -1.*retrain"):
        load_model(tmp_path / "folds" / "fold_0")


def test_baseline_on_real_rows_beats_the_target(real_rows):
    train, folds = real_rows
    run = cross_validate(BaselineModel(), train, folds, name="baseline", progress=False)
    assert run.metrics["oof_log_loss"] < 1.035  # issue target; uniform is 1.0986


@pytest.fixture(scope="module")
def small_minilm_run(synthetic):
    train, test, folds = synthetic
    train = train.iloc[:240].reset_index(drop=True)
    model = MiniLMLightGBMModel(max_rounds=300, early_stopping_rounds=30)
    return cross_validate(model, train, folds[:240], test=test.iloc[:30], name="minilm_lgbm", progress=False), train


def test_minilm_lgbm_fits_predicts_and_is_symmetric(small_minilm_run, synthetic):
    run, train = small_minilm_run
    _, test, _ = synthetic
    check_probabilities(run.oof, len(train))
    check_probabilities(run.test_proba, 30)
    model = run.ensemble.models[0]
    assert model.best_rounds_ >= 1
    table = model.features(test.iloc[:5])
    assert table.shape == (5, len(model.columns_)) and "diff_emb_383" in table.columns
    check_symmetric(model, test.iloc[:20])
    importance = model.feature_importance()
    assert "diff_emb (all dims)" in importance.index and (importance >= 0).all()


def test_minilm_lgbm_save_load_and_formatter_version(small_minilm_run, synthetic, tmp_path):
    run, _ = small_minilm_run
    test = synthetic[1].iloc[:10]
    run.ensemble.models[0].save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(test), run.ensemble.models[0].predict_proba(test), atol=1e-12)
    record = json.loads((tmp_path / "model" / "model.json").read_text())
    # Saved before the texts setting existed: it embedded all five kinds, whatever the default is now.
    del record["params"]["texts"]
    (tmp_path / "model" / "model.json").write_text(json.dumps(record))
    assert load_model(tmp_path / "model").texts == "all"
    record["state"]["formatter_version"] = 0
    (tmp_path / "model" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="formatter version"):
        load_model(tmp_path / "model")


def test_minilm_lgbm_on_real_rows_beats_the_target(real_rows):
    train, folds = real_rows
    run = cross_validate(MiniLMLightGBMModel(), train, folds, name="minilm_lgbm", progress=False)
    assert run.metrics["oof_log_loss"] < 1.045  # issue target; uniform is 1.0986


class RecordingEmbedder:
    """embed_sides' interface without a model: a fixed random vector per text key; records the kinds asked for."""

    def __init__(self):
        self.asked: list[tuple] = []

    def embed_sides(self, frame, prompt_share=0.3, kinds=KINDS):
        self.asked.append(tuple(kinds))
        keys = text_keys(frame, kinds)
        vector = lambda key: np.random.default_rng(int(key[:16], 16)).standard_normal(8).astype(np.float32)  # noqa: E731
        return {kind: np.stack([vector(key) for key in keys[kind]]) for kind in kinds}


@pytest.mark.parametrize("texts", ["all", "sides"])
def test_minilm_lgbm_texts_kinds_columns_and_swap_rule(synthetic, texts):
    rows = synthetic[0].iloc[:12].reset_index(drop=True)
    model = MiniLMLightGBMModel(texts=texts)
    model.embedder_ = RecordingEmbedder()
    table = model.features(rows)
    assert model.embedder_.asked == [TEXT_SETS[texts]]
    embedding_columns = [f"diff_emb_{i}" for i in range(8)] + ["pair_cos_sides"]
    if texts == "all":
        embedding_columns += ["pair_cos_responses", "prompt_cos_a", "prompt_cos_b", "diff_prompt_cos"]
    assert list(table.columns[: len(embedding_columns)]) == embedding_columns
    assert not table.columns[len(embedding_columns) :].str.contains("cos|emb").any()  # the surface features
    # The swap rule: the swapped rows' features are the features with A and B exchanged, bit for bit.
    pd.testing.assert_frame_equal(model.features(swap_ab(rows)), swap_features(table), check_exact=True)


def test_minilm_lgbm_sides_formats_and_embeds_only_the_sides(synthetic, monkeypatch):
    rows = synthetic[0].iloc[:6].reset_index(drop=True)
    model = MiniLMLightGBMModel(texts="sides", cache_dir="", device="cpu", precision="fp32", max_seq_length=32)
    formatted, embedded = [], []
    real_format = formatting.format_conversations

    def recording_format(conversations, *args, **kwargs):
        formatted.extend(len(conversation) for conversation in conversations)
        return real_format(conversations, *args, **kwargs)

    monkeypatch.setattr(formatting, "format_conversations", recording_format)
    model._embedder().show_progress = False
    model._embedder().model.register_forward_hook(lambda m, a, out: embedded.append(len(out["sentence_embedding"])))
    table = model.features(rows)
    keys = text_keys(rows, ("a", "b"))
    n_sides = len(set(keys["a"]) | set(keys["b"]))
    # Every text formatted is a side (prompt and response: two turn columns), each distinct side once.
    assert formatted == [2] * n_sides and sum(embedded) == n_sides
    assert "pair_cos_sides" in table.columns and "pair_cos_responses" not in table.columns
    assert table.filter(like="diff_emb_").shape[1] == 384


def test_minilm_lgbm_sides_fits_is_symmetric_and_round_trips(small_minilm_run, synthetic, tmp_path):
    # The same rows as small_minilm_run: its sides' vectors are in the session's embedding cache.
    _, train = small_minilm_run
    test = synthetic[1].iloc[:20]
    model = MiniLMLightGBMModel(texts="sides", max_rounds=300, early_stopping_rounds=30).fit(train)
    assert "pair_cos_sides" in model.columns_ and not any("prompt_cos" in column for column in model.columns_)
    check_symmetric(model, test)
    loaded = load_model(model.save(tmp_path / "model"))
    assert loaded.texts == "sides"
    np.testing.assert_allclose(loaded.predict_proba(test), model.predict_proba(test), atol=1e-12)


def test_minilm_lgbm_embeds_the_sides_on_a_cpu_all_on_a_gpu_and_a_fitted_model_what_it_was_fitted_on():
    assert MiniLMLightGBMModel(device="cpu").embedded_texts() == "sides"
    assert MiniLMLightGBMModel(device="cuda").embedded_texts() == "all"
    assert MiniLMLightGBMModel(device="cuda", texts="sides").embedded_texts() == "sides"
    fitted_on_a_cpu = MiniLMLightGBMModel(device="cuda")
    fitted_on_a_cpu.columns_ = ("diff_emb_0", "pair_cos_sides", "length_diff")
    assert fitted_on_a_cpu.embedded_texts() == "sides"  # predicting on a GPU, it embeds what its booster reads
