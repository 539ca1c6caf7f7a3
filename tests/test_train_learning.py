"""Learning is proven, not assumed: the bundled MiniLM learns a planted signal with the LoRA loop, in 1 process and
in 2, as a cross-encoder and as a Siamese model.

MiniLM (a real pretrained encoder) learns a marker anywhere in the winning response. The random
decoder, and the broken swap mapping that keeps it from learning, are tested beside the decoder's
2-process runs (test_train_distributed). Uniform guessing scores ln 3 = 1.0986.
"""

from __future__ import annotations

import json

import pytest

from arenakit.train.__main__ import main
from planted_signal import write_planted_competition
from train_worker import command, torchrun

# 100 training rows of fold 0 (of 3) in both A/B orders; 1 process with grad_accum 2 takes the steps of 2 with 1.
ENCODER_SETTINGS = {
    "architecture": "cross_encoder",  # the CPU profile's MiniLM is Siamese with adapters on block 5 only
    "layers_to_transform": list(range(6)),
    "max_length": 40,
    "epochs": 4,
    "batch_size": 8,
    "learning_rate": 2e-3,
    "max_train_rows": 100_000,
    "patience": 100,
    "progress": False,
}
LEARNED = 0.3


@pytest.fixture(scope="module")
def encoder_data(tmp_path_factory):
    return write_planted_competition(tmp_path_factory.mktemp("planted") / "data", n_train=150, n_test=12, seed=0)


def oof_log_loss(out) -> float:
    return json.loads((out / "deberta_lora" / "metrics.json").read_text())["oof_log_loss"]


def test_the_encoder_learns_the_planted_signal_in_one_process(encoder_data, tmp_path):
    assert main(command(encoder_data, tmp_path / "one", "minilm", ENCODER_SETTINGS, grad_accum=2)) == 0
    print(f"MiniLM, 1 process: out-of-fold log loss {oof_log_loss(tmp_path / 'one'):.4f}")
    assert oof_log_loss(tmp_path / "one") < LEARNED


def test_the_encoder_learns_the_planted_signal_in_two_processes(encoder_data, tmp_path):
    code, output, seconds = torchrun(command(encoder_data, tmp_path / "two", "minilm", ENCODER_SETTINGS, grad_accum=1))
    assert code == 0, output[-3000:]
    print(f"MiniLM, 2 processes: out-of-fold log loss {oof_log_loss(tmp_path / 'two'):.4f} ({seconds:.0f} s)")
    assert oof_log_loss(tmp_path / "two") < LEARNED


def test_the_siamese_model_learns_the_planted_signal(encoder_data, tmp_path):
    # Both orders in training: a broken label or swap mapping contradicts the model's exact symmetry.
    siamese = {**ENCODER_SETTINGS, "architecture": "siamese", "swap_augment": True, "epochs": 2}
    assert main(command(encoder_data, tmp_path / "siamese", "minilm", siamese)) == 0
    print(f"Siamese MiniLM, 1 process: out-of-fold log loss {oof_log_loss(tmp_path / 'siamese'):.4f}")
    assert oof_log_loss(tmp_path / "siamese") < LEARNED
