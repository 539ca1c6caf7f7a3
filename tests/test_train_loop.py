"""The training loop's parts: how batches are shared out, precision by device, phases, the command's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from arenakit.core.distributed import gather_rows, mixed_precision_for, row_shards
from arenakit.core.phases import PhaseTimer
from arenakit.models.lora.batching import TokenRows, length_grouped_batches
from arenakit.models.lora.train import RowSubset, process_batches, shortest_unit
from arenakit.train.__main__ import main
from conftest import REPO_ROOT


def test_processes_share_every_batch_once_in_order_and_pad_to_whole_steps():
    lengths = np.random.default_rng(0).integers(5, 60, size=2 * 37)  # 37 rows, each followed by its swap
    batches = length_grouped_batches(lengths, 8, seed=3, pairs=True)
    pad = shortest_unit(lengths, pairs=True)
    plans = [process_batches(batches, 2, process, grad_accum=3, pad=pad) for process in (0, 1)]
    assert len(batches) == 10  # 4 pairs a batch
    assert len(plans[0]) == len(plans[1]) == 6  # 5 batches each, padded to 2 steps of 3
    # Round k gives batch 2k to process 0 and 2k+1 to process 1: together, every batch once, in order.
    real = [plans[k % 2][k // 2] for k in range(12) if plans[k % 2][k // 2][1] == 1.0]
    assert [list(batch) for batch, _ in real] == [list(batch) for batch in batches]
    pads = [batch for plan in plans for batch, weight in plan if weight == 0.0]
    assert len(pads) == 12 - len(batches) and all(list(p) == list(pad) for p in pads)
    assert pad[0] % 2 == 0 and pad[1] == pad[0] + 1  # a row and its swap, never half a pair
    assert lengths.reshape(-1, 2).max(axis=1)[pad[0] // 2] == lengths.reshape(-1, 2).max(axis=1).min()
    for batch, _ in plans[0] + plans[1]:  # a row and its swap stay in one batch
        assert all(index ^ 1 in batch for index in batch)


def test_one_process_takes_the_steps_of_two_with_twice_the_accumulation():
    batches = [np.array([k]) for k in range(7)]
    one = process_batches(batches, 1, 0, grad_accum=2, pad=np.array([99]))
    two = [process_batches(batches, 2, process, grad_accum=1, pad=np.array([99])) for process in (0, 1)]
    steps_one = [[list(b) for b, w in one[i : i + 2] if w] for i in range(0, len(one), 2)]
    steps_two = [[list(plan[i][0]) for plan in two if plan[i][1]] for i in range(len(two[0]))]
    assert steps_one == steps_two == [[[0], [1]], [[2], [3]], [[4], [5]], [[6]]]


def test_shares_of_rows_are_balanced_and_gather_back_in_row_order():
    lengths = np.array([5, 90, 30, 60, 10, 80, 20])
    shards = row_shards(lengths, 2)
    assert sorted(np.concatenate(shards).tolist()) == list(range(7))
    assert [len(shard) for shard in shards] == [4, 3]
    assert [lengths[shard].max() for shard in shards] == [90, 80]  # the longest rows dealt out to both
    rows = TokenRows([[1] * n for n in lengths], pad_id=0)
    share = RowSubset(rows, shards[1])
    assert list(share.lengths) == list(lengths[shards[1]])
    assert share.batch([0])["input_ids"].shape == (1, lengths[shards[1][0]])
    whole = np.arange(7.0)[:, None] * [1, 10]
    assert (gather_rows(whole, [np.arange(7)], 7) == whole).all()


def test_mixed_precision_is_chosen_by_device(monkeypatch):
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    assert mixed_precision_for("cpu") == "no"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # a T4
    assert mixed_precision_for("cuda:0") == "fp16"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # an A100
    assert mixed_precision_for("cuda:0") == "bf16"
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")  # accelerate launch --mixed_precision fp16
    assert mixed_precision_for("cuda:0") == "fp16"
    assert mixed_precision_for("cuda:0", "no") == "no"
    with pytest.raises(ValueError, match="mixed_precision='fp8'"):
        mixed_precision_for("cuda:0", "fp8")


def test_phases_count_nested_time_once():
    timer = PhaseTimer()
    with timer.phase("train"):
        with timer.phase("validate"):
            pass
    with timer.phase("train"):
        pass
    table = timer.table()
    assert list(table.index) == ["train", "validate", "total"]
    assert table.loc["total", "seconds"] == pytest.approx(table["seconds"].iloc[:2].sum(), abs=0.2)


def test_the_shipped_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    configs = REPO_ROOT / "lib" / "arenakit" / "train" / "configs"
    single = load_config_from_file(str(configs / "single-gpu.yaml"))
    assert (single.distributed_type, single.num_processes, single.use_cpu) == ("NO", 1, False)
    zero2 = load_config_from_file(str(configs / "deepspeed-zero2-4xa100.yaml"))
    assert (zero2.distributed_type, zero2.num_processes, zero2.mixed_precision) == ("DEEPSPEED", 4, "bf16")
    assert zero2.deepspeed_config["zero_stage"] == 2 and "gradient_accumulation_steps" not in zero2.deepspeed_config


def test_the_command_names_unknown_settings_and_bad_data(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["lora", "--out", str(tmp_path), "-p", "lora_rank=8"])
    assert "unknown setting(s) lora_rank" in capsys.readouterr().err
    (tmp_path / "data").mkdir()
    assert main(["lora", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("arenakit.train: error in process 0:") and "train.csv" in error
    assert "Traceback" not in error
