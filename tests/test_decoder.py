"""Decoder judges on tiny random Llama, Gemma-2 and Qwen-2: fit, save, load, quantized, two devices, symmetry, QLoRA.

Tolerances: one device against two, and swap-on-second-device against swap averaging on one
device, differ only in how rows are batched: atol 1e-6. 8-bit weights against fp32: atol 1e-3,
4-bit (NF4): atol 1e-2 (measured 8e-5 and 4.8e-3 on the tiny Llama, whose probabilities stray
3.5e-2 from uniform, so the test checks the signal exceeds 3 x the tolerance). Symmetry is exact:
both orders of a row are predicted in one pass and averaged, so swapping A and B permutes the
same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from arenakit.core.swap import swap_proba
from arenakit.data import load_competition, swap_ab
from arenakit.models.base import load_model
from arenakit.models.lora import predict as predict_module
from arenakit.models.lora.backbone import is_quantized
from arenakit.models.lora.classifier import LoRAClassifier
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from tiny_backbones import tiny_model

PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def tiny(backbone, **params) -> LoRAClassifier:
    return tiny_model(backbone, **{"learning_rate": 5e-3, "max_train_rows": 32, "device": "cpu", **params})


@pytest.fixture(scope="module")
def frame(synthetic_dir):
    return load_competition(synthetic_dir).train


@pytest.fixture(scope="module")
def rows(frame):
    return frame.iloc[100:124].reset_index(drop=True)


@pytest.fixture(scope="module", params=["llama", "gemma2", "qwen2"])
def fitted(request, tiny_decoder_dir, frame):
    return tiny(tiny_decoder_dir(request.param)).fit(frame.iloc[:60])


@pytest.fixture(scope="module")
def saved_llama(tiny_decoder_dir, frame, tmp_path_factory):
    model = tiny(tiny_decoder_dir("llama")).fit(frame.iloc[:60])
    return model, model.save(tmp_path_factory.mktemp("llama") / "fold_0")


def test_fit_save_load_predict(fitted, rows, tmp_path):
    tokenizer = fitted.tokenizer()
    ids = fitted.input_ids(rows)
    assert max(map(len, ids)) <= 64
    if tokenizer.bos_token_id is not None:  # Qwen-2 has none
        assert all(row[0] == tokenizer.bos_token_id for row in ids)
    assert not any(row[-1] in (tokenizer.eos_token_id, tokenizer.pad_token_id) for row in ids)  # B's text ends it
    trained = [name for name, p in fitted.model_.named_parameters() if p.requires_grad]
    assert {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in trained if "lora_" in name} == PROJECTIONS
    assert any("score.modules_to_save" in name for name in trained)
    assert len(fitted.history_) == 1 and fitted.history_[0]["step"] > 0
    proba = fitted.predict_proba(rows)
    assert proba.shape == (len(rows), 3) and np.allclose(proba.sum(axis=1), 1)
    loaded = load_model(fitted.save(tmp_path / "fold_0"))
    np.testing.assert_allclose(loaded.predict_proba(rows), proba, atol=1e-6)


def test_predictions_are_exactly_symmetric(fitted, rows):
    proba = fitted.predict_proba(rows)
    assert np.array_equal(proba, swap_proba(fitted.predict_proba(swap_ab(rows))))
    # One order alone is not symmetric, by far more than float noise (about 1e-7): the averaging does it.
    assert fitted.swap_asymmetry(rows) > 1e-4


def test_gemma2_runs_eager_attention_for_its_soft_capping(tiny_decoder_dir):
    gemma = tiny(tiny_decoder_dir("gemma2"))._load_backbone()
    llama = tiny(tiny_decoder_dir("llama"))._load_backbone()
    assert gemma.config._attn_implementation == "eager" and gemma.config.attn_logit_softcapping
    assert llama.config._attn_implementation == "sdpa"
    assert not gemma.config.use_cache and gemma.dtype == torch.float32  # dtype="auto" on CPU


def test_two_devices_and_swap_on_second_device_match_one_device(saved_llama, rows, monkeypatch):
    model, _ = saved_llama
    one = model.predict_proba(rows)
    one_order = model.predict_one_order(rows)
    split = model.set_params(device="cpu,cpu")
    np.testing.assert_allclose(split.predict_one_order(rows), one_order, atol=1e-6)
    np.testing.assert_allclose(split.predict_proba(rows), one, atol=1e-6)

    seen = {}
    real = predict_module.predict_proba

    def spy(*args, **kwargs):
        seen["parts"] = kwargs["parts"]
        return real(*args, **kwargs)

    monkeypatch.setattr("arenakit.models.lora.classifier.predict_proba", spy)
    swapped = model.set_params(swap_on_second_device=True).predict_proba(rows)
    np.testing.assert_allclose(swapped, one, atol=1e-6)
    n = len(rows)  # the original rows on device 0, their swaps (rows n..2n-1) on device 1
    assert [part.tolist() for part in seen["parts"]] == [list(range(n)), list(range(n, 2 * n))]
    model.set_params(device="cpu", swap_on_second_device=False)


@pytest.mark.parametrize("quantize, layer, atol", [("8bit", "Linear8bitLt", 1e-3), ("4bit", "Linear4bit", 1e-2)])
def test_quantized_load_gives_each_device_its_own_base(saved_llama, rows, monkeypatch, quantize, layer, atol):
    model, folder = saved_llama
    reference = model.predict_proba(rows)
    loads = []
    real_load = CrossEncoderClassifier._load_backbone

    def recording_load(self, device=None):
        loads.append(device)
        return real_load(self, device)

    monkeypatch.setattr(CrossEncoderClassifier, "_load_backbone", recording_load)
    loaded = load_model(folder, quantize=quantize, device="cpu,cpu")
    assert loads == [None, "cpu"]  # the first device's base, then the second's: loaded, never copied
    (replica,) = loaded._replicas(["cpu", "cpu"])
    assert replica is not loaded.model_ and is_quantized(replica) and is_quantized(loaded.model_)
    for copy_ in (loaded.model_, replica):
        assert layer in {type(module).__name__ for module in copy_.modules()}
        assert any("lora_A" in name for name, _ in copy_.named_parameters())  # adapters on, unmerged
    proba = loaded.predict_proba(rows)
    assert loads == [None, "cpu"]  # prediction reused both copies
    np.testing.assert_allclose(proba, reference, atol=atol)
    assert np.abs(reference - 1 / 3).max() > 3 * atol  # the tolerance is tighter than the signal
    with pytest.raises(ValueError, match="quantized model cannot be copied"):
        predict_module.predict_proba(loaded.model_, loaded.model_inputs(rows), devices=["cpu", "cpu"])


def test_qlora_trains_chosen_blocks_on_a_4bit_base(tiny_decoder_dir, frame):
    model = tiny(
        tiny_decoder_dir("gemma2"),
        quantize="4bit",
        gradient_checkpointing=True,
        optimizer="paged_adamw_8bit",
        layers_to_transform=[1],
    ).fit(frame.iloc[:40])
    trained = {name: p for name, p in model.model_.named_parameters() if p.requires_grad}
    adapters = [name for name in trained if "lora_" in name]
    assert adapters and all(".layers.1." in name for name in adapters)  # block 0 left without adapters
    assert {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in adapters} == PROJECTIONS
    assert all(p.dtype == torch.float32 for p in trained.values())  # adapters and head in fp32
    assert all(trained[name].abs().sum() > 0 for name in adapters if "lora_B" in name)  # B starts at 0: it learned
    base = model.model_.get_base_model()
    assert is_quantized(base) and any(getattr(m, "gradient_checkpointing", False) for m in base.modules())
    assert type(base.model.layers[0].mlp.up_proj).__name__ == "Linear4bit"
    with pytest.raises(ValueError, match="layers_to_transform=\\[7\\] selects none.*from 0 to 1"):
        tiny(tiny_decoder_dir("gemma2"), layers_to_transform=[7]).fit(frame.iloc[:40])


def test_a_half_precision_base_trains_fp32_adapters_and_head(tiny_decoder_dir, frame):
    # What dtype="auto" gives a decoder on a T4 (fp16 frozen weights), on the CPU: the trained parts stay fp32.
    model = tiny(tiny_decoder_dir("llama"), dtype="float16").fit(frame.iloc[:40])
    parameters = list(model.model_.named_parameters())
    assert {p.dtype for _, p in parameters if not p.requires_grad} == {torch.float16}
    assert {p.dtype for _, p in parameters if p.requires_grad} == {torch.float32}
    assert any("lora_" in name for name, p in parameters if p.requires_grad)
    assert any("score" in name for name, p in parameters if p.requires_grad)  # the head
    proba = model.predict_proba(frame.iloc[40:48])
    assert proba.dtype == np.float64 and np.allclose(proba.sum(axis=1), 1)
