"""Token-budget batches, the device split, out-of-memory halving, dtype="auto" and the decoder profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arenakit.core.settings import SettingError
from arenakit.models.lora.backbone import add_lora, load_classifier, load_tokenizer, resolve_dtype
from arenakit.models.lora.batching import TokenRows, padded_tokens, split_rows, token_budget_batches
from arenakit.models.lora.predict import DeviceRun, available_devices, predict_proba
from arenakit.models.lora.profiles import DECODER_PROFILES, model_settings, resolve_settings


def test_token_budget_batches_cap_padded_tokens_widest_first():
    lengths = np.random.default_rng(0).integers(5, 300, 500)
    lengths[7] = 900  # longer than the budget: a batch of its own
    batches = token_budget_batches(lengths, 600)
    assert sorted(np.concatenate(batches).tolist()) == list(range(500))  # every row once
    assert batches[0].tolist() == [7]
    assert all(len(b) == 1 or len(b) * lengths[b].max() <= 600 for b in batches)
    widths = [lengths[b].max() for b in batches]
    assert widths == sorted(widths, reverse=True)
    # Short rows share a batch: fewer padded tokens and far fewer batches than 8 rows in input order.
    fixed = [np.arange(i, min(i + 8, 500)) for i in range(0, 500, 8)]
    assert padded_tokens(lengths, batches) < 0.7 * padded_tokens(lengths, fixed)
    assert padded_tokens(lengths, fixed, pad_to=900) == 500 * 900
    with pytest.raises(ValueError, match="max_batch_tokens must be a positive"):
        token_budget_batches(lengths, 0)


def test_split_rows_gives_each_device_a_like_share_of_any_slice():
    lengths = np.random.default_rng(1).integers(10, 2000, 999)
    for rows in (np.arange(999), np.random.default_rng(2).choice(999, 64, replace=False)):
        parts = split_rows(lengths[rows], 2)
        assert sorted(np.concatenate(parts).tolist()) == list(range(len(rows)))
        sizes, tokens = [len(p) for p in parts], [lengths[rows][p].sum() for p in parts]
        assert abs(sizes[0] - sizes[1]) <= 1 and abs(tokens[0] - tokens[1]) <= lengths.max()
    assert available_devices("cpu, cpu") == ["cpu", "cpu"] and available_devices("cuda:1") == ["cuda:1"]


class RunsOutOfMemory(torch.nn.Module):
    """The wrapped model, raising CUDA's out-of-memory error for batches over `limit` tokens."""

    def __init__(self, model, limit: int):
        super().__init__()
        self.model, self.limit, self.shapes = model, limit, []

    def forward(self, **inputs):
        self.shapes.append(tuple(inputs["input_ids"].shape))
        if inputs["input_ids"].numel() > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return self.model(**inputs)


@pytest.fixture(scope="module")
def llama(tiny_decoder_dir):
    folder = tiny_decoder_dir("llama")
    tokenizer = load_tokenizer(folder)
    model = add_lora(load_classifier(folder, tokenizer), r=4, alpha=8, dropout=0.0)
    lengths = np.random.default_rng(3).integers(3, 40, 37)
    ids = [np.random.default_rng(i).integers(3, len(tokenizer), n).tolist() for i, n in enumerate(lengths)]
    return model.eval(), TokenRows(ids, tokenizer.pad_token_id)


def test_out_of_memory_halves_the_batch_and_loses_no_row(llama, capsys):
    model, rows = llama
    expected = predict_proba(model, rows, devices=["cpu"], max_batch_tokens=10_000, progress=False)
    failing = RunsOutOfMemory(model, limit=300)
    report: list[DeviceRun] = []
    proba = predict_proba(failing, rows, devices=["cpu"], max_batch_tokens=10_000, progress=False, report=report)
    np.testing.assert_allclose(proba, expected, atol=1e-6)  # same rows, same order
    assert failing.shapes[0][0] == len(rows) and failing.shapes[1][0] == (len(rows) + 1) // 2  # all, then half
    assert all(n * width <= 300 for n, width in failing.shapes[-(report[0].batches) :])
    assert report[0].rows == len(rows) and report[0].halvings >= 2
    printed = capsys.readouterr().out
    assert "ran out of memory" in printed and "no row lost" in printed
    with pytest.raises(
        torch.cuda.OutOfMemoryError, match=rf"one row of {rows.lengths.max()} tokens does not fit.*quantize"
    ):
        predict_proba(RunsOutOfMemory(model, limit=10), rows, devices=["cpu"], progress=False)


def test_dtype_auto_half_precision_on_gpus_fp32_on_cpu(monkeypatch):
    assert resolve_dtype("auto", "cpu", decoder=True) == torch.float32
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # T4: no bf16
    assert resolve_dtype("auto", "cuda:0", decoder=True) == torch.float16
    assert resolve_dtype("auto", "cuda:0", decoder=False) == torch.float32  # encoders keep fp32 + autocast
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # A100
    assert resolve_dtype("auto", "cuda:0", decoder=True) == torch.bfloat16
    assert resolve_dtype("float16", "cpu", decoder=False) == torch.float16
    with pytest.raises(ValueError, match="dtype='fp8'.*'auto'"):
        resolve_dtype("fp8", "cpu", decoder=True)


def test_decoder_profiles():
    t4 = resolve_settings({"profile": "decoder_2xt4", "backbone": "/models/gemma-2-9b"}, "test", device="cpu")
    assert t4["backbone"] == "/models/gemma-2-9b"  # a given setting wins over the profile
    assert (t4["quantize"], t4["max_length"], t4["swap_on_second_device"]) == ("8bit", 2048, True)
    train = resolve_settings({"profile": "decoder_train"}, "test", device="cpu")
    assert train["quantize"] == "4bit" and train["gradient_checkpointing"] and train["optimizer"] == "paged_adamw_8bit"
    assert set(DECODER_PROFILES) == {"decoder_2xt4", "decoder_train"}
    assert t4["folds_to_train"] == [0] and t4["learning_rate"] == 2e-4  # the gpu profile's run settings beneath
    notebook = {"lora_r": None, "gradient_checkpointing": None, "quantize": None, "profile": "decoder_train"}
    assert (
        resolve_settings(notebook, "test")["lora_r"] == 16
        and resolve_settings(notebook, "test")["gradient_checkpointing"]
    )


def test_the_ensemble_applies_an_inference_profile_to_a_saved_decoder():
    from arenakit.ensemble.members import Member, start_overrides
    from arenakit.models.baseline import BaselineModel
    from arenakit.models.lora.cross_encoder import CrossEncoderClassifier

    settings = model_settings(resolve_settings({"profile": "decoder_train"}, "test"))
    trained = CrossEncoderClassifier.from_settings(settings).settings()
    members = [
        Member("deberta_lora", Path("x"), pd.DataFrame(), {}, trained, CrossEncoderClassifier),
        Member("baseline", Path("y"), pd.DataFrame(), {}, BaselineModel(C=1.0).settings(), BaselineModel),
    ]
    start = start_overrides(members, swap_average=None, inference={"deberta_lora": "decoder_2xt4"})
    assert start["baseline"] == {}
    assert start["deberta_lora"] == {
        "quantize": "8bit", "dtype": "auto", "max_length": 2048, "max_batch_tokens": 8192, "inference_batch_size": 32,
        "swap_average": True, "swap_on_second_device": True, "device": "auto",
    }  # fmt: skip
    assert "backbone" not in start["deberta_lora"] and trained["quantize"] == "4bit"  # inference alone changes
    start = start_overrides(members, swap_average=False, inference={"deberta_lora": {"max_length": 1536}})
    assert start["deberta_lora"] == {"swap_average": False, "max_length": 1536}
    assert start["baseline"] == {"swap_average": False}
    # The notebook's explicit False beats the profile's True (it used to lose), and a model's own entry beats both.
    start = start_overrides(members, swap_average=False, inference={"deberta_lora": "decoder_2xt4"})
    assert start["deberta_lora"]["swap_average"] is False and start["deberta_lora"]["max_length"] == 2048
    entry = {"profile": "decoder_2xt4", "swap_average": True, "max_length": 1024}
    start = start_overrides(members, swap_average=False, inference={"deberta_lora": entry})
    assert (start["deberta_lora"]["swap_average"], start["deberta_lora"]["max_length"]) == (True, 1024)
    with pytest.raises(
        SettingError, match="unknown setting.*quantize from inference= for baseline; known: .*swap_average"
    ):
        start_overrides(members, swap_average=True, inference={"baseline": {"quantize": "8bit"}})
    with pytest.raises(SettingError, match="profile='tpu'.*decoder_2xt4"):
        resolve_settings({"profile": "tpu"}, "test")
