"""The LoRA classifier: target modules per architecture, fit/predict/save/load, swap symmetry, resume, CV subsets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arenakit.bench.tiny_decoder import tiny_decoder_config
from arenakit.core.settings import SettingError
from arenakit.core.swap import swap_proba
from arenakit.data import load_competition, swap_ab
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.inputs.backbones import BackboneNotFound, resolve_backbone
from arenakit.inputs.formatting import FORMATTER_VERSION, FormatterVersionError
from arenakit.models.base import load_model
from arenakit.models.lora.backbone import add_lora, head_modules, target_modules
from arenakit.models.lora.batching import TokenRows
from arenakit.models.lora.classifier import LoRAClassifier
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from arenakit.models.lora.siamese_classifier import SiameseClassifier
from arenakit.pipeline.cv import cross_validate
from tiny_backbones import tiny_model


def tiny(backbone, **params) -> LoRAClassifier:
    return tiny_model(backbone, **params)


@pytest.fixture(scope="module")
def frame(synthetic_dir):
    return load_competition(synthetic_dir).train


@pytest.fixture(scope="module")
def fitted(tiny_deberta_dir, frame):
    return tiny(tiny_deberta_dir, epochs=2).fit(frame.iloc[:100])


def decoder_config(model_type: str):
    return tiny_decoder_config(
        model_type,
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "gemma", "mistral"])
def test_decoder_backbones_get_projection_adapters_and_a_trained_score_head(model_type):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_config(decoder_config(model_type))
    targets = target_modules(model)
    assert {name.rsplit(".", 1)[-1] for name in targets} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert head_modules(model) == ["score"] and not any(name.startswith("score") for name in targets)
    peft_model = add_lora(model, r=4, alpha=8, dropout=0.0)
    trained = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    assert any("lora_A" in name for name in trained) and any(
        "modules_to_save" in name and "score" in name for name in trained
    )
    # Right-padded rows pool their last real token: padding changes nothing.
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    peft_model.eval()
    with torch.no_grad():
        padded = peft_model(input_ids=ids, attention_mask=(ids != 0).long()).logits[0]
        alone = peft_model(input_ids=ids[:1, :3]).logits[0]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-4)


def test_encoder_targets_exclude_the_head(tiny_deberta_dir):
    from transformers import AutoModelForSequenceClassification

    deberta = AutoModelForSequenceClassification.from_pretrained(str(tiny_deberta_dir))
    names = target_modules(deberta)
    assert {name.rsplit(".", 1)[-1] for name in names} == {"query_proj", "key_proj", "value_proj", "dense"}
    assert head_modules(deberta) == ["classifier", "pooler"] and not any(n.startswith("pooler") for n in names)
    bert = AutoModelForSequenceClassification.from_pretrained(str(resolve_backbone("minilm")), num_labels=3)
    assert {name.rsplit(".", 1)[-1] for name in target_modules(bert)} == {"query", "key", "value", "dense"}


def test_unknown_architecture_names_what_to_pass():
    from transformers import AutoModelForSequenceClassification, GPT2Config

    model = AutoModelForSequenceClassification.from_config(GPT2Config(n_layer=1, n_embd=16, n_head=2, num_labels=3))
    with pytest.raises(ValueError, match="model_type 'gpt2'.*target_modules="):
        target_modules(model)
    assert add_lora(model, 4, 8, 0.0, leaf_names=["c_attn"]).peft_config["default"].r == 4


def test_fit_predicts_probabilities_records_history_and_is_swap_symmetric(fitted, frame):
    rows = frame.iloc[100:140].reset_index(drop=True)
    proba = fitted.predict_proba(rows)
    assert proba.shape == (40, 3) and np.allclose(proba.sum(axis=1), 1) and (proba > 0).all()
    np.testing.assert_allclose(proba, swap_proba(fitted.predict_proba(swap_ab(rows))), atol=1e-6)
    # One order alone is not symmetric, by 100x the 1e-6 the averaged predictions meet: averaging does the work.
    assert fitted.swap_asymmetry(rows) > 1e-4
    assert [round(r["epoch"]) for r in fitted.history_] == [1, 2]
    assert {"train_loss", "valid_log_loss", "valid_accuracy", "valid_macro_f1"} <= set(fitted.history_[0])
    trained, total = fitted.trainable_parameters()
    assert 0 < trained < total


def test_save_load_round_trip_and_formatter_version_refusal(fitted, frame, tmp_path):
    rows = frame.iloc[100:120].reset_index(drop=True)
    folder = fitted.save(tmp_path / "fold_0")
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    record = json.loads((folder / "model.json").read_text())
    assert record["state"]["formatter_version"] == FORMATTER_VERSION
    loaded = load_model(folder)
    np.testing.assert_allclose(loaded.predict_proba(rows), fitted.predict_proba(rows), atol=1e-6)
    shorter = load_model(folder, max_length=32, swap_average=False)
    assert shorter.model.max_length == 32 and max(len(ids) for ids in shorter.input_ids(rows)) <= 32
    record["state"]["formatter_version"] = FORMATTER_VERSION + 1
    (folder / "model.json").write_text(json.dumps(record))
    with pytest.raises(FormatterVersionError, match="retrain"):
        load_model(folder)


def test_interrupted_training_resumes_where_it_stopped(tiny_deberta_dir, frame, tmp_path, monkeypatch):
    rows = frame.iloc[:60]
    reference = tiny(tiny_deberta_dir, epochs=2, checkpoint_dir=str(tmp_path / "reference")).fit(rows)

    real_batch = TokenRows.batch
    calls = {"n": 0}

    def interrupt_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 16:  # an epoch is 11 training batches, then 1 validation batch
            raise KeyboardInterrupt("simulated interruption")
        return real_batch(*args, **kwargs)

    resumable = tiny(tiny_deberta_dir, epochs=2, checkpoint_dir=str(tmp_path / "run"), checkpoint_every=1)
    monkeypatch.setattr(TokenRows, "batch", interrupt_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        resumable.fit(rows)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["loop"]["epoch"] == 1 and saved["loop"]["batch"] > 0  # stopped inside the second epoch
    monkeypatch.setattr(TokenRows, "batch", real_batch)
    calls["n"] = 0
    resumed = tiny(tiny_deberta_dir, epochs=2, checkpoint_dir=str(tmp_path / "run"), checkpoint_every=1).fit(rows)
    assert [r["epoch"] for r in resumed.history_] == [r["epoch"] for r in reference.history_]
    for (name, a), (_, b) in zip(resumed.model_.named_parameters(), reference.model_.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_minilm_backbone_trains_a_chosen_fold_and_a_rerun_reuses_it(frame, tmp_path, monkeypatch):
    rows = frame.iloc[:150].reset_index(drop=True)
    folds = assign_folds(rows["label"].to_numpy(), prompt_groups(rows), n_folds=3, seed=1)
    model = tiny("minilm", max_length=48, max_train_rows=40)
    run = cross_validate(
        model, rows, folds, name="deberta_lora", only_folds=[1], fold_dir=tmp_path / "folds", progress=False
    )
    assert run.metrics["folds_trained"] == [1] and run.metrics["oof_rows"] == int((folds == 1).sum())
    assert np.isnan(run.oof[folds != 1]).all() and not np.isnan(run.oof[folds == 1]).any()
    assert (tmp_path / "folds" / "fold_1" / "fold.json").is_file() and not (tmp_path / "folds" / "fold_0").exists()
    assert (tmp_path / "checkpoints" / "fold_1" / "checkpoint.pt").is_file()

    def must_not_train(self, *args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(CrossEncoderClassifier, "fit", must_not_train)
    again = cross_validate(
        model, rows, folds, name="deberta_lora", only_folds=[1], fold_dir=tmp_path / "folds", progress=False
    )
    np.testing.assert_allclose(again.oof[folds == 1], run.oof[folds == 1], atol=1e-6)
    saved = run.save(tmp_path / "out", rows)
    assert len(np.loadtxt(saved / "oof.csv", delimiter=",", skiprows=1)) == run.metrics["oof_rows"]


def test_missing_backbone_says_how_to_stage_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENAKIT_KAGGLE_INPUT", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneNotFound, match=r"build.py datasets --backbone acme/none-such=PATH"):
        resolve_backbone("acme/none-such")


def test_two_device_inference_matches_one_device(fitted, frame):
    from arenakit.models.lora.predict import predict_proba

    rows = fitted.model_inputs(frame.iloc[:30])
    one = predict_proba(fitted.model_, rows, batch_size=4, devices=["cpu"], progress=False)
    # The multi-GPU path (a model copy and a thread per device, batches dealt out in turn), on two CPU "devices".
    two = predict_proba(fitted.model_, rows, batch_size=4, devices=["cpu", "cpu"], progress=False)
    np.testing.assert_allclose(two, one, atol=1e-6)


def test_a_model_saved_before_the_split_loads_as_the_cross_encoder(fitted, frame, tiny_deberta_dir, tmp_path):
    # tests/fixtures/lora_classifier_model_v1.json is the model.json today's main wrote for these settings
    # (class LoRAClassifierModel, 37 flat parameters, no "format"); the adapter files did not change format.
    rows = frame.iloc[100:120].reset_index(drop=True)
    folder = fitted.save(tmp_path / "fold_0")
    old = json.loads((Path(__file__).parent / "fixtures" / "lora_classifier_model_v1.json").read_text())
    old["params"]["backbone"] = str(tiny_deberta_dir)
    (folder / "model.json").write_text(json.dumps(old))
    loaded = load_model(folder)
    assert type(loaded) is CrossEncoderClassifier and loaded.model.max_length == 64 and loaded.training.seed == 3
    expected = {k: v for k, v in old["params"].items() if k not in ("architecture", "finetune", "checkpoint_dir")}
    # mixed_precision was the training loop's own, always "auto"; the distillation settings came with issue 22,
    # freeze_layers with issue 25 (None: as before)
    new = {"checkpoint_dir", "mixed_precision", "distill_weight", "distill_temperature", "freeze_layers"}
    assert {k: v for k, v in loaded.settings().items() if k not in new} == expected
    assert loaded.runtime.checkpoint_dir is None  # a path of the machine that trained it is never taken
    np.testing.assert_allclose(loaded.predict_proba(rows), fitted.predict_proba(rows), atol=1e-6)
    assert load_model(folder, max_length=32).model.max_length == 32  # inference settings apply as before
    resaved = json.loads(loaded.save(tmp_path / "resaved").joinpath("model.json").read_text())
    assert resaved["class"] == "CrossEncoderClassifier" and resaved["format"] == 2
    assert resaved["params"]["model"]["max_length"] == 64 and resaved["params"]["training"]["epochs"] == 2


def test_the_estimator_has_few_parameters_and_keeps_the_scikit_learn_contract(tiny_deberta_dir):
    import inspect

    from sklearn.base import clone

    for estimator in (CrossEncoderClassifier, SiameseClassifier):
        assert len(inspect.signature(estimator.__init__).parameters) - 1 <= 25
    model = tiny(tiny_deberta_dir, max_length=48)
    copy = clone(model).set_params(max_length=96, training__epochs=3)
    assert (copy.model.max_length, copy.training.epochs) == (96, 3)
    assert (model.model.max_length, model.training.epochs) == (48, 1)  # the clone owns its groups
    assert model.get_params()["model__max_length"] == 48 and "runtime__device" in model.get_params()
    assert SiameseClassifier().training.swap_augment is False and CrossEncoderClassifier().training.swap_augment
    with pytest.raises(SettingError, match="max_length='abc' from CrossEncoderClassifier's parameters.*integer"):
        model.set_params(max_length="abc").fit(pd.DataFrame())


def test_the_protocol_from_the_settings_alone():
    cross = CrossEncoderClassifier.from_settings({"max_length": 1024})
    assert not cross.symmetric and cross.cache_info() is None and cross.token_cap_param == "max_length"
    assert [(s.kind, s.settings) for s in cross.cheaper_steps(min_tokens=256)] == [
        ("swap_average", {"swap_average": False}),
        ("token_cap", {"max_length": 512}),
    ]
    assert [s.settings for s in cross.set_params(max_length=300, swap_average=False).cheaper_steps(256)] == [
        {"max_length": 256}
    ]
    assert cross.set_params(max_length=256).cheaper_steps(256) == []
    siamese = SiameseClassifier.from_settings({"max_length": 512})
    assert siamese.symmetric and [s.kind for s in siamese.cheaper_steps(256)] == ["token_cap"]
    assert {"max_length", "swap_average", "quantize", "device"} <= CrossEncoderClassifier.inference_params
