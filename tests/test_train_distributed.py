"""The training command on 2 CPU processes (torchrun, gloo) against 1 process: same result, resume, who writes, failures.

The runs train the planted-signal decoder (tests/planted_signal.py: a random Llama, only LoRA and
the head trained) through `python -m arenakit.train lora`, the notebook's code path: it learns in 1
process and in 2, and does not with the swap mapping broken. The 2-process runs go through
tests/train_worker.py, which adds a write log and simulated interruptions and failures around the
unchanged command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import arenakit.core.swap
from arenakit.core.schema import CLASS_COLUMNS
from arenakit.train.__main__ import main
from planted_signal import build_planted_decoder, write_planted_competition
from train_worker import command, read_log, torchrun

# The planted-signal decoder's run: 300 training rows of fold 0 (of 3), both A/B orders.
DECODER_SETTINGS = {
    "max_length": 40,
    "epochs": 6,
    "batch_size": 8,
    "learning_rate": 3e-3,
    "lora_dropout": 0.0,  # no random masks: 1 and 2 processes then differ only by float rounding
    "max_train_rows": 100_000,
    "patience": 100,  # validate every epoch, never stop early: the same number of steps in every run
    "checkpoint_every": 5,
    "progress": False,
}
BATCHES_PER_PROCESS = 6 * 34  # 6 epochs of 34 batches: 270 rows x 2 orders / 8 rows a batch / 2 processes
STOP_AT = 80  # the interrupted run stops at its 80th batch, in the third epoch, 4 batches after a checkpoint
RESUMED_AT = 75  # the last checkpoint before the stop: step 75 (every 5 steps; a step is one batch a process)
# Probabilities of 1 and 2 processes agree within this. Training is the same arithmetic: the same
# batches in the same steps, each gradient scaled by 1/2 (exact in floating point) and summed
# (commutative): one process accumulating, DDP averaging, both on 1 thread. Only inference differs:
# each process predicts its share of the rows, so batches pad to other widths and matrix products
# take other shapes, which rounds float32 differently. Measured gap: 1.1e-6; 1e-4 allows 100 times that.
PROBABILITY_TOLERANCE = 1e-4


def probabilities(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "deberta_lora" / name).set_index("id")[list(CLASS_COLUMNS)]


def train_in_this_process(data: Path, out: Path, backbone: Path) -> None:
    """The decoder's run in 1 process, on 1 thread as each of the 2 processes has."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # 2 processes with grad_accum 1 take the steps of 1 process with grad_accum 2.
        assert main(command(data, out, backbone, DECODER_SETTINGS, grad_accum=2)) == 0
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def decoder_runs(tmp_path_factory):
    """The decoder trained by 1 process (in this one) and by 2: interrupted in its third epoch, then resumed."""
    root = tmp_path_factory.mktemp("distributed")
    data = write_planted_competition(root / "data", n_train=450, n_test=30, seed=0, marker_at="end")
    backbone = build_planted_decoder(root / "decoder", initializer_range=0.2)
    one = root / "one"
    train_in_this_process(data, one, backbone)
    two, logs = root / "two", [root / "log-interrupted", root / "log-resumed"]
    for log in logs:
        log.mkdir()
    args = command(data, two, backbone, DECODER_SETTINGS, grad_accum=1)
    interrupted = torchrun(args, logs[0], ARENAKIT_TEST_STOP_AFTER=str(STOP_AT))
    checkpoint = torch.load(two / "deberta_lora/checkpoints/fold_0/checkpoint.pt", weights_only=True)
    resumed = torchrun(args, logs[1])
    return {
        "data": data,
        "one": one,
        "two": two,
        "logs": logs,
        "runs": (interrupted, resumed),
        "checkpoint": checkpoint,
    }


def test_two_processes_give_the_probabilities_of_one(decoder_runs):
    (_, _, _), (code, output, _) = decoder_runs["runs"]
    assert code == 0, output[-3000:]
    for name in ("oof.csv", "test.csv"):
        one, two = probabilities(decoder_runs["one"], name), probabilities(decoder_runs["two"], name)
        assert list(two.index) == list(one.index)
        gap = float(np.abs(two.to_numpy() - one.to_numpy()).max())
        print(f"{name}: largest probability gap between 1 and 2 processes {gap:.2e}")
        assert gap < PROBABILITY_TOLERANCE
    one_metrics = json.loads((decoder_runs["one"] / "deberta_lora/metrics.json").read_text())
    two_metrics = json.loads((decoder_runs["two"] / "deberta_lora/metrics.json").read_text())
    # The same validations, the same early-stopping record, in both.
    assert [r["step"] for r in two_metrics["training"]["fold 0"]] == [
        r["step"] for r in one_metrics["training"]["fold 0"]
    ]


def test_teacher_predictions_of_the_run_are_its_fold_model_on_every_row(decoder_runs, tmp_path):
    """`python -m arenakit.train teacher-predictions` on the LoRA run (issue 22): fold 0's model predicts every
    train row, loaded with an inference setting given anew; on its held-out rows that is the run's oof.csv."""
    from arenakit.data import read_teacher_file
    from arenakit.data.folds import FOLDS_FILE

    one, out = decoder_runs["one"], tmp_path / "teacher.csv"
    argv = ["teacher-predictions", "--run-dir", str(one), "--model", "deberta_lora", "--data-dir"]
    assert main([*argv, str(decoder_runs["data"]), "--out", str(out), "-p", "max_batch_tokens=4096"]) == 0
    teacher = read_teacher_file(out).set_index("id")
    folds = pd.read_csv(one / FOLDS_FILE).set_index("id")["fold"]
    assert set(teacher["fold"]) == {0} and sorted(teacher.index) == sorted(folds.index)  # all 450 rows
    oof = probabilities(one, "oof.csv")
    held_out = teacher.loc[oof.index, list(CLASS_COLUMNS)].to_numpy()
    assert float(np.abs(held_out - oof.to_numpy()).max()) < PROBABILITY_TOLERANCE


def test_the_decoder_learns_the_planted_signal_in_one_process_and_in_two(decoder_runs):
    for run in ("one", "two"):
        metrics = json.loads((decoder_runs[run] / "deberta_lora/metrics.json").read_text())
        print(f"decoder, {run} process(es): out-of-fold log loss {metrics['oof_log_loss']:.4f}")
        assert metrics["oof_log_loss"] < 0.3  # uniform: 1.0986


def test_a_broken_swap_mapping_keeps_the_loss_high(decoder_runs, monkeypatch):
    """The run that learns (out-of-fold 0.17), with the swapped rows' labels left unswapped.

    The swapped rows then teach "the marked side wins" and its opposite at once, so A and B cannot
    be told apart; at best ties are, which would leave the decided rows at ln 2 (0.46 over all
    rows). Measured: 1.10, nothing learned.
    """
    monkeypatch.setattr(arenakit.core.swap, "swap_labels", lambda labels: labels)  # the mapping, broken on purpose
    out = decoder_runs["data"].parent / "broken"
    train_in_this_process(decoder_runs["data"], out, decoder_runs["data"].parent / "decoder")
    loss = json.loads((out / "deberta_lora/metrics.json").read_text())["oof_log_loss"]
    print(f"decoder with the swap mapping broken: out-of-fold log loss {loss:.4f}")
    assert loss > 0.4


def test_an_interrupted_two_process_run_resumes_where_it_stopped(decoder_runs):
    (code, output, _), (resumed_code, resumed_output, _) = decoder_runs["runs"]
    assert code != 0 and "simulated interruption" in output
    saved = decoder_runs["checkpoint"]["loop"]
    assert saved["epoch"] == 2 and saved["batch"] == RESUMED_AT - 2 * 34  # the last checkpoint before the stop
    assert [round(r["epoch"]) for r in saved["history"]] == [1, 2]
    assert resumed_code == 0, resumed_output[-3000:]
    for rank in (0, 1):
        done_after_resume = read_log(decoder_runs["logs"][1], rank, decoder_runs["two"])["batches"]
        assert done_after_resume == BATCHES_PER_PROCESS - RESUMED_AT  # exactly the batches after the checkpoint
    history = json.loads((decoder_runs["two"] / "deberta_lora/metrics.json").read_text())["training"]["fold 0"]
    assert [round(r["epoch"]) for r in history] == [1, 2, 3, 4, 5, 6]
    assert history[:2] == saved["history"]  # the first launch's validations, carried over


def _final_paths(paths, root) -> set[str]:
    """The files written, by their final names: arenakit.core.atomic writes .tmp-<pid>-<name> and renames it."""
    return {re.sub(r"\.tmp-\d+-", "", Path(path).relative_to(root).as_posix()) for path in paths}


def test_only_process_zero_writes(decoder_runs):
    two = decoder_runs["two"]
    for log in decoder_runs["logs"]:
        assert read_log(log, 1, two)["writes"] == []
        written = _final_paths(read_log(log, 0, two)["writes"], two)
        assert "deberta_lora/checkpoints/fold_0/checkpoint.pt" in written
    written = _final_paths(read_log(decoder_runs["logs"][1], 0, two)["writes"], two)
    assert {"deberta_lora/oof.csv", "deberta_lora/test.csv", "deberta_lora/metrics.json"} <= written
    assert "deberta_lora/folds/fold_0/adapter/adapter_config.json" in written


def test_a_failing_process_ends_the_launch_with_its_error(decoder_runs):
    backbone = decoder_runs["data"].parent / "decoder"
    args = command(decoder_runs["data"], decoder_runs["data"].parent / "failing", backbone, DECODER_SETTINGS)
    code, output, seconds = torchrun(args, timeout=240, ARENAKIT_TEST_FAIL="1:3")
    print(f"the failing launch ended after {seconds:.0f} s")
    assert code != 0
    # torchrun's summary names the failing process and carries its error (arenakit.train records it).
    assert (
        re.search(r"Root Cause.*?rank\s*:\s*1 ", output, re.S)
        and "simulated failure in process 1: CUDA out of memory" in output
    )
