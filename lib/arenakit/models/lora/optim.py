"""The optimizer of the adapters and the head: AdamW, or bitsandbytes' 8-bit AdamW for big backbones.

    optimizer = make_optimizer(params, "paged_adamw_8bit", learning_rate=2e-4, weight_decay=0.01)

AdamW keeps two fp32 moments per trained weight: for LoRA at r=64 on all linear layers of a 9B
decoder (about 216M adapter weights) that is 1.7 GB. bitsandbytes' 8-bit AdamW keeps them in 8
bits (a quarter of that), and its paged variant moves them to CPU memory when the GPU runs short
instead of failing, which QLoRA training on one GPU relies on. Both run on CPU too (bitsandbytes
0.50), so they are tested here.
"""

from __future__ import annotations

import torch

from arenakit.models.lora.settings import OPTIMIZERS


def make_optimizer(params, name: str, learning_rate: float, weight_decay: float) -> torch.optim.Optimizer:
    """The named optimizer over params; a clear error for an unknown name or a missing bitsandbytes."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r}: use one of {', '.join(OPTIMIZERS)}")
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise ImportError(
            f"optimizer={name!r} needs bitsandbytes (pip install bitsandbytes; on Kaggle it is in the kit's wheels)"
        ) from None
    optimizer_class = bnb.optim.PagedAdamW8bit if name == "paged_adamw_8bit" else bnb.optim.AdamW8bit
    return optimizer_class(params, lr=learning_rate, weight_decay=weight_decay)
