"""The Siamese architecture: exact A/B symmetry by construction, fit/save/load/predict, resume, planted signal, notebook."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from arenakit.core.errors import ArtifactError
from arenakit.core.settings import SettingError
from arenakit.core.swap import swap_proba
from arenakit.data import load_competition, swap_ab
from arenakit.inputs.formatting import FORMATTER_VERSION, FormatterVersionError
from arenakit.kaggle_build.runner import run_pipeline
from arenakit.models.base import load_model
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from arenakit.models.lora.profiles import resolve_settings
from arenakit.models.lora.siamese import HEAD_FILE, SymmetricHead, new_siamese
from arenakit.models.lora.siamese_classifier import SiameseClassifier
from arenakit.models.lora.siamese_inputs import SiameseRows, siamese_ids
from conftest import REPO_ROOT
from test_lora_classifier import tiny

SWAPPED = [1, 0, 2]


def siamese(backbone, **params) -> SiameseClassifier:
    """The LoRA tests' tiny settings, Siamese, each side 48 tokens, trained on one order."""
    return tiny(backbone, **{"architecture": "siamese", "max_length": 48, "swap_augment": False, **params})


@pytest.fixture(scope="module")
def frame(synthetic_dir):
    return load_competition(synthetic_dir).train


@pytest.fixture(scope="module")
def fitted(tiny_deberta_dir, frame):
    return siamese(tiny_deberta_dir).fit(frame.iloc[:80])


def test_symmetric_by_construction_on_random_inputs(tiny_deberta_dir):
    torch.manual_seed(0)
    head = SymmetricHead(16).eval()
    a, b = 3 * torch.randn(64, 16), 3 * torch.randn(64, 16)
    logits = head(a, b)
    assert torch.equal(head(b, a), logits[:, SWAPPED])  # exactly, not approximately
    assert (logits[:, 0] - logits[:, 1]).abs().min() > 0  # symmetric without being blind to the order

    model = new_siamese(tiny_deberta_dir).eval()  # random head, LoRA on the random encoder: no training needed
    ids_a, ids_b = torch.randint(5, 900, (6, 20)), torch.randint(5, 900, (6, 20))
    mask_a, mask_b = (
        torch.ones_like(ids_a),
        (torch.arange(20) < torch.tensor([[20], [7], [12], [20], [3], [15]])).long(),
    )
    with torch.no_grad():
        forward = model(ids_a, mask_a, ids_b, mask_b).logits
        backward = model(ids_b, mask_b, ids_a, mask_a).logits
    assert forward.shape == (6, 3) and torch.equal(backward, forward[:, SWAPPED])


def test_rows_pad_both_sides_to_one_width_and_swap_by_exchanging_them():
    rows = SiameseRows([[1, 5, 2], [1, 6, 7, 8, 2]], [[1, 9, 9, 2], [1, 2]], pad_id=0)
    assert len(rows) == 2 and rows.lengths.tolist() == [4, 5]
    batch = rows.batch([0, 1])
    assert sorted(batch) == ["attention_mask_a", "attention_mask_b", "input_ids_a", "input_ids_b"]
    assert batch["input_ids_a"].shape == batch["input_ids_b"].shape == (2, 5)
    assert batch["input_ids_b"][0].tolist() == [1, 9, 9, 2, 0] and batch["attention_mask_b"][1].tolist() == [
        1,
        1,
        0,
        0,
        0,
    ]
    both, labels = rows.with_swaps(np.array([0, 2]))
    assert both.ids_a == [[1, 5, 2], [1, 9, 9, 2], [1, 6, 7, 8, 2], [1, 2]] and labels.tolist() == [0, 1, 2, 2]
    digests = [hashlib.sha256(), hashlib.sha256()]
    rows.update_digest(digests[0])
    SiameseRows(rows.ids_b, rows.ids_a, 0).update_digest(digests[1])
    assert digests[0].hexdigest() != digests[1].hexdigest()  # a checkpoint of the swapped data is not resumed


def test_each_side_gets_the_whole_budget(fitted, frame):
    ids_a, ids_b = siamese_ids(frame.iloc[:40], fitted.tokenizer(), max_length=48)
    cross = CrossEncoderClassifier.from_settings({"backbone": fitted.model.backbone, "max_length": 48})
    cross = cross.input_ids(frame.iloc[:40])
    assert max(map(len, ids_a + ids_b)) == 48 and max(map(len, cross)) == 48
    # Two sequences of 48 tokens a row against one: the responses get about twice the room.
    assert sum(map(len, ids_a + ids_b)) > 1.8 * sum(map(len, cross))
    assert all(seq[0] == fitted.tokenizer().cls_token_id for seq in ids_a + ids_b)


def test_fit_predict_is_exactly_symmetric_and_never_runs_the_swapped_pass(fitted, frame, monkeypatch):
    rows = frame.iloc[100:140].reset_index(drop=True)
    proba = fitted.predict_proba(rows)
    assert proba.shape == (40, 3) and np.allclose(proba.sum(axis=1), 1) and (proba > 0).all()
    np.testing.assert_allclose(fitted.predict_proba(swap_ab(rows)), swap_proba(proba), rtol=0, atol=1e-7)
    assert fitted.swap_asymmetry(rows) < 1e-7
    assert [round(r["epoch"]) for r in fitted.history_] == [1] and "valid_log_loss" in fitted.history_[0]
    trained, total = fitted.trainable_parameters()
    assert 0 < trained < total

    calls = []
    one_order = SiameseClassifier._predict_one_order
    monkeypatch.setattr(SiameseClassifier, "_predict_one_order", lambda self, f: calls.append(1) or one_order(self, f))
    assert fitted.swap_average and np.array_equal(fitted.predict_proba(rows), proba) and len(calls) == 1


def test_exactly_symmetric_on_real_rows(fitted, real_sample_dir):
    rows = load_competition(real_sample_dir, warn=False).train.iloc[:48].reset_index(drop=True)
    proba = fitted.predict_one_order(rows)
    np.testing.assert_allclose(fitted.predict_one_order(swap_ab(rows)), swap_proba(proba), rtol=0, atol=1e-7)
    assert proba.std(axis=0).max() > 0  # rows get different predictions: the symmetry is not a constant's


def test_save_load_round_trip_and_refusals(fitted, frame, tmp_path):
    rows = frame.iloc[100:120].reset_index(drop=True)
    folder = fitted.save(tmp_path / "fold_0")
    assert {p.name for p in folder.iterdir()} == {"adapter", HEAD_FILE, "model.json"}
    record = json.loads((folder / "model.json").read_text())
    assert record["class"] == "SiameseClassifier" and record["format"] == 2
    assert record["params"]["model"]["finetune"] == "lora" and record["state"]["formatter_version"] == FORMATTER_VERSION
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
    shorter = load_model(folder, max_length=32)
    assert max(len(ids) for pair in shorter.input_ids(rows) for ids in pair) <= 32

    (folder / HEAD_FILE).rename(tmp_path / "moved")
    with pytest.raises(ArtifactError, match=HEAD_FILE):
        load_model(folder)
    (tmp_path / "moved").rename(folder / HEAD_FILE)
    record["state"]["formatter_version"] = FORMATTER_VERSION + 1
    (folder / "model.json").write_text(json.dumps(record))
    with pytest.raises(FormatterVersionError, match="retrain"):
        load_model(folder)


def test_full_finetuning_trains_and_saves_the_whole_encoder(tiny_deberta_dir, frame, tmp_path):
    model = siamese(tiny_deberta_dir, finetune="full", max_length=32, max_train_rows=32).fit(frame.iloc[:40])
    trained, total = model.trainable_parameters()
    assert trained == total
    folder = model.save(tmp_path / "full")
    assert {p.name for p in folder.iterdir()} == {"encoder.safetensors", HEAD_FILE, "model.json"}
    rows = frame.iloc[100:110]
    np.testing.assert_array_equal(load_model(folder).predict_proba(rows), model.predict_proba(rows))


@pytest.mark.parametrize("model_type", ["roberta", "electra"])
def test_the_other_encoder_backbones_train_save_and_predict_symmetrically(model_type, frame, tmp_path):
    from tiny_backbones import build_tiny_encoder

    backbone = build_tiny_encoder(tmp_path / model_type, model_type)
    model = siamese(backbone, max_length=32, max_train_rows=16).fit(frame.iloc[:20])
    assert model.trainable_parameters()[0] < model.trainable_parameters()[1]  # adapters and head, not the encoder
    rows = frame.iloc[100:106].reset_index(drop=True)
    proba = model.predict_proba(rows)
    np.testing.assert_array_equal(model.predict_proba(swap_ab(rows)), proba[:, SWAPPED])
    np.testing.assert_array_equal(load_model(model.save(tmp_path / "saved")).predict_proba(rows), proba)


def test_adapters_go_to_the_chosen_blocks_only(tiny_deberta_dir, frame):
    model = siamese(tiny_deberta_dir, layers_to_transform=[1], max_length=32, max_train_rows=16).fit(frame.iloc[:20])
    adapted = {name.split(".layer.")[1].split(".")[0] for name, _ in model.model_.named_parameters() if "lora_" in name}
    assert adapted == {"1"}
    with pytest.raises(ValueError, match="layers_to_transform chooses the blocks.*finetune='full'"):
        siamese(tiny_deberta_dir, finetune="full", layers_to_transform=[1], max_length=32).fit(frame.iloc[:20])


def test_interrupted_training_resumes_where_it_stopped(tiny_deberta_dir, frame, tmp_path, monkeypatch):
    rows, params = frame.iloc[:40], dict(max_length=32, max_train_rows=None, epochs=2, checkpoint_every=1)
    reference = siamese(tiny_deberta_dir, checkpoint_dir=str(tmp_path / "reference"), **params).fit(rows)
    real_batch, calls = SiameseRows.batch, {"n": 0}

    def interrupt_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9:  # an epoch is 5 training batches (36 rows), then 1 validation batch
            raise KeyboardInterrupt("simulated interruption")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(SiameseRows, "batch", interrupt_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        siamese(tiny_deberta_dir, checkpoint_dir=str(tmp_path / "run"), **params).fit(rows)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["loop"]["epoch"] == 1 and saved["loop"]["batch"] == 2  # stopped inside the second epoch
    monkeypatch.setattr(SiameseRows, "batch", real_batch)
    resumed = siamese(tiny_deberta_dir, checkpoint_dir=str(tmp_path / "run"), **params).fit(rows)
    assert [r["epoch"] for r in resumed.history_] == [r["epoch"] for r in reference.history_]
    for (name, a), (_, b) in zip(resumed.model_.named_parameters(), reference.model_.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_decoders_and_unknown_settings_get_clear_errors(frame, tmp_path):
    from transformers import AutoConfig

    AutoConfig.for_model(
        "llama", vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2
    ).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'llama' backbone is a decoder.*architecture='cross_encoder'"):
        siamese(tmp_path).fit(frame.iloc[:20])
    with pytest.raises(SettingError, match="architecture='twin'.*'cross_encoder', 'siamese'"):
        siamese("minilm", architecture="twin")
    with pytest.raises(SettingError, match="unknown setting.*finetune"):  # full fine-tuning is the Siamese encoder's
        CrossEncoderClassifier.from_settings({"finetune": "full"})
    with pytest.raises(SettingError, match="quantize='4bit'.*takes None .a Siamese encoder loads in full precision"):
        siamese("minilm", quantize="4bit").fit(frame.iloc[:20])


def test_notebook_trains_the_siamese_model(tiny_deberta_dir, synthetic_dir, tmp_path):
    out = tmp_path / "run"
    parameters = dict(
        backbone=str(tiny_deberta_dir),
        architecture="siamese",
        max_length=48,
        max_train_rows=60,
        epochs=1,
        batch_size=16,
        folds_to_train=[0],
        n_folds=3,
        learning_rate=1e-3,
    )
    [result] = run_pipeline(
        REPO_ROOT / "notebooks", out, data_dir=synthetic_dir, names=["deberta_lora"], parameters=parameters
    )
    folder = out / "deberta_lora"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["folds_trained"] == [0] and 0.9 < metrics["oof_log_loss"] < 1.3
    assert metrics["swap_asymmetry"] < 1e-7  # the notebook's own symmetry check, on held-out rows
    assert len(pd.read_csv(folder / "oof.csv")) == metrics["oof_rows"] > 0
    fold = folder / "folds" / "fold_0"
    assert (fold / HEAD_FILE).is_file() and (fold / "adapter" / "adapter_model.safetensors").is_file()
    record = json.loads((fold / "model.json").read_text())
    assert record["class"] == "SiameseClassifier"
    assert record["params"]["training"]["swap_augment"] is False  # the architecture's default
    assert result.report.read_text().count("<img") >= 4


def test_the_cpu_profile_is_the_siamese_minilm_and_the_gpu_profile_stays_the_cross_encoder():
    notebook = {"architecture": None, "swap_augment": None, "layers_to_transform": None}  # left at None
    cpu = resolve_settings(notebook, "test", device="cpu")
    assert (cpu["architecture"], cpu["backbone"], cpu["layers_to_transform"]) == ("siamese", "minilm", [5])
    assert cpu["swap_augment"] is False and cpu["max_train_rows"] is None  # the Siamese default; every row
    crossed = resolve_settings({**notebook, "architecture": "cross_encoder"}, "test", device="cpu")
    assert crossed["architecture"] == "cross_encoder" and crossed["swap_augment"] is True  # both orders
    gpu = resolve_settings({**notebook, "profile": "gpu"}, "test")
    assert (gpu["architecture"], gpu["layers_to_transform"], gpu["max_length"]) == ("cross_encoder", None, 1024)
    # Another backbone on a CPU: the architecture and blocks chosen for MiniLM's six do not apply.
    other = resolve_settings({**notebook, "backbone": "/models/tiny-deberta"}, "test", device="cpu")
    assert (other["architecture"], other["layers_to_transform"]) == ("cross_encoder", None)
    assert other["max_length"] == 64 and other["learning_rate"] == 3e-3
    with pytest.raises(SettingError, match="architecture"):
        resolve_settings({**notebook, "architecture": "siamse"}, "test", device="cpu")
