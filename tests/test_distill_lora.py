"""Distillation in the LoRA loop (issue 22), in 1 process and in 2 (torchrun, gloo), through `python -m arenakit.train`.

The planted-signal decoder (a random Llama: only LoRA and the head learn) on rows whose labels are
noisy flips of the planted marker rule; the teacher file holds the rule's probabilities. The
distilled student beats the same student on the labels alone, and 2 processes give the
probabilities of 1 (the KL term is averaged like the cross-entropy: per batch, then over processes).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from arenakit.core.schema import CLASS_COLUMNS
from arenakit.data.teacher_file import write_teacher_file
from arenakit.train.__main__ import main
from distill_data import flip_labels, per_fold_file, rule_teacher
from planted_signal import build_planted_decoder, write_planted_competition
from test_train_distributed import DECODER_SETTINGS, PROBABILITY_TOLERANCE
from train_worker import command, torchrun

FLIP_RATE = 0.3
SETTINGS = {**DECODER_SETTINGS, "epochs": 4, "checkpoint_every": 0}


def oof_log_loss(out) -> float:
    return json.loads((out / "deberta_lora" / "metrics.json").read_text())["oof_log_loss"]


def in_one_process(args: list[str]) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the 2 processes has: the same arithmetic
    try:
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill-lora")
    data = write_planted_competition(root / "data", n_train=300, n_test=12, seed=0, marker_at="end")
    raw = pd.read_csv(data / "train.csv")
    clean = raw[list(CLASS_COLUMNS)].to_numpy().argmax(axis=1)
    flip_labels(raw, clean, FLIP_RATE, seed=1).to_csv(data / "train.csv", index=False)
    teacher = root / "rule.csv"
    write_teacher_file(per_fold_file(raw["id"], {k: rule_teacher(clean, FLIP_RATE) for k in range(3)}), teacher)
    backbone = build_planted_decoder(root / "decoder", initializer_range=0.2)
    distill = ["--teacher", str(teacher), "--distill-weight", "1.0"]
    in_one_process(command(data, root / "alone", backbone, SETTINGS, grad_accum=2))
    in_one_process(command(data, root / "one", backbone, SETTINGS, grad_accum=2) + distill)
    two = torchrun(command(data, root / "two", backbone, SETTINGS, grad_accum=1) + distill)
    return {"root": root, "two": two}


def test_the_distilled_decoder_beats_labels_alone_in_one_process_and_in_two(runs):
    code, output, seconds = runs["two"]
    assert code == 0, output[-3000:]
    root = runs["root"]
    scores = {name: oof_log_loss(root / name) for name in ("alone", "one", "two")}
    print(
        f"decoder OOF log loss: labels alone {scores['alone']:.4f}, distilled 1 process {scores['one']:.4f}, "
        f"2 processes {scores['two']:.4f} ({seconds:.0f} s)"
    )
    assert scores["one"] < scores["alone"] - 0.02
    one, two = (pd.read_csv(root / name / "deberta_lora" / "oof.csv").set_index("id") for name in ("one", "two"))
    assert float(np.abs(one.to_numpy() - two.to_numpy()).max()) < PROBABILITY_TOLERANCE
    teacher = json.loads((root / "two" / "deberta_lora" / "metrics.json").read_text())["teacher"]
    assert teacher == {
        "name": "rule",
        "source": "file",
        "fold_scheme": "per_fold",
        "distill_weight": 1.0,
        "distill_temperature": 1.0,
    }


def test_the_distillation_loss_mixes_cross_entropy_and_kl_per_row():
    from arenakit.models.distill import distillation_loss

    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, -1])
    teacher = torch.tensor([[0.7, 0.2, 0.1], [float("nan")] * 3, [0.1, 0.1, 0.8], [0.2, 0.5, 0.3]])
    weight = torch.tensor([1.0, 2.0, 1.0, 0.5])
    ce = torch.nn.functional.cross_entropy(logits, labels.clamp(min=0), reduction="none")
    log_student = torch.log_softmax(logits / 2.0, dim=1)
    soft = torch.softmax(torch.log(teacher) / 2.0, dim=1)
    kl = (soft * (soft.log() - log_student)).sum(dim=1) * 4.0
    # Row 0 mixes; row 1 has no teacher (its label alone); row 2 mixes; row 3 is unlabelled (its teacher alone).
    expected = torch.stack([0.7 * ce[0] + 0.3 * kl[0], 2.0 * ce[1], 0.7 * ce[2] + 0.3 * kl[2], 0.5 * kl[3]]).mean()
    got = distillation_loss(logits, labels, teacher, weight, distill_weight=0.3, temperature=2.0)
    torch.testing.assert_close(got, expected)
    plain = distillation_loss(logits[:3], labels[:3], torch.full((3, 3), float("nan")), torch.ones(3), 0.3, 2.0)
    torch.testing.assert_close(plain, ce[:3].mean())
