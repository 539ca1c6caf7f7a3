"""The optimizers of the LoRA loop, bitsandbytes' 8-bit ones included (they run on CPU)."""

from __future__ import annotations

import io

import pytest
import torch

from arenakit.models.lora.optim import OPTIMIZERS, make_optimizer


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_minimises_and_its_state_round_trips(name):
    torch.manual_seed(0)
    target = torch.randn(64, 128)  # 8192 weights: above bitsandbytes' 4096 floor for 8-bit state
    weight = torch.nn.Parameter(torch.zeros_like(target))
    optimizer = make_optimizer([weight], name, learning_rate=0.05, weight_decay=0.0)
    start = float(((weight - target) ** 2).mean())
    for _ in range(60):
        optimizer.zero_grad()
        loss = ((weight - target) ** 2).mean()
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.2 * start
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)  # checkpoints hold it and load it with weights_only
    buffer.seek(0)
    make_optimizer([weight], name, 0.05, 0.0).load_state_dict(torch.load(buffer, weights_only=True))


def test_an_unknown_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="use one of adamw, adamw_8bit, paged_adamw_8bit"):
        make_optimizer([torch.nn.Parameter(torch.zeros(2))], "sgd", 0.1, 0.0)
