"""The Siamese input: two sequences a row, "prompt + response A" and "prompt + response B", and their rows class.

    ids_a, ids_b = siamese_ids(frame, tokenizer, max_length=512)   # token ids per side, specials included
    rows = SiameseRows(ids_a, ids_b, pad_id)                      # what the training loop and inference read
    rows.batch([3, 7])   # {"input_ids_a", "attention_mask_a", "input_ids_b", "attention_mask_b"}

Each side is one conversation of the kit formatter (arenakit.inputs.formatting) with the whole token
budget: [CLS] p1 [SEP] r1 [SEP] p2 [SEP] r2 [SEP], the prompt capped at prompt_share while the
response needs the room, head and tail of long turns, the latest rounds kept when they do not all
fit (as the cross-encoder). A side never depends on the other one, so the swapped row is the same
two sequences exchanged: swap augmentation needs no second tokenization. FORMATTER_VERSION is
saved with the model and checked at load.

SiameseRows has TokenRows' interface (len, lengths, batch, update_digest), so the training loop,
validation, resume and multi-device inference take it unchanged. Both sides of a batch pad to one
width (the longest sequence of either side): swapping A and B then feeds the encoder tensors of
exactly the same shapes, which keeps the symmetry exact in floating point too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from arenakit.core.swap import with_swapped_rows
from arenakit.inputs.formatting import format_conversations
from arenakit.models.lora.batching import pad_batch
from arenakit.models.lora.inputs import PROMPT_SHARE, _conversations


def _sides(frame: pd.DataFrame) -> list:
    """Every row's (prompt, response A) conversation, then every row's (prompt, response B)."""
    rows = _conversations(frame)
    return [(prompt, a) for prompt, a, _ in rows] + [(prompt, b) for prompt, _, b in rows]


def _format(frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float, head_share: float, ids: bool):
    # One formatter call for both sides: each distinct turn (the prompt's above all) is tokenized once.
    return format_conversations(
        _sides(frame), tokenizer, max_length, prompt_share, head_share, return_ids=ids, keep_turns="latest"
    )


def siamese_ids(
    frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float = PROMPT_SHARE, head_share: float = 0.5
) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids (with the tokenizer's specials) of side A and side B of every row, each at most max_length long."""
    _, ids = _format(frame, tokenizer, max_length, prompt_share, head_share, ids=True)
    return ids[: len(frame)], ids[len(frame) :]


def siamese_texts(
    frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float = PROMPT_SHARE, head_share: float = 0.5
) -> list[tuple[str, str]]:
    """The (side A, side B) texts each row is tokenized from (without the outer specials)."""
    texts = _format(frame, tokenizer, max_length, prompt_share, head_share, ids=False)
    return list(zip(texts[: len(frame)], texts[len(frame) :]))


@dataclass(frozen=True)
class SiameseRows:
    """The token ids of both sides of each row, padded into batches on request (TokenRows' interface)."""

    ids_a: list[list[int]]
    ids_b: list[list[int]]
    pad_id: int

    def __post_init__(self):
        if len(self.ids_a) != len(self.ids_b):
            raise ValueError(f"{len(self.ids_a)} A sides and {len(self.ids_b)} B sides: one of each per row")

    def __len__(self) -> int:
        return len(self.ids_a)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens of each row's longer side: the width its batch pads to at least."""
        sides = (self.ids_a, self.ids_b)
        return np.fromiter((max(len(a), len(b)) for a, b in zip(*sides)), np.int64, len(self))

    def batch(self, rows: Sequence[int], pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """The Siamese model's keyword inputs for these rows, both sides padded on the right to one width."""
        both = pad_batch([self.ids_a[i] for i in rows] + [self.ids_b[i] for i in rows], self.pad_id, pad_to)
        n = len(rows)
        return {
            f"{name}_{side}": value[part]
            for name, value in both.items()
            for side, part in (("a", slice(n)), ("b", slice(n, None)))
        }

    def update_digest(self, digest) -> None:
        """Feed every token id of both sides to a hashlib digest (the training fingerprint)."""
        for side in (self.ids_a, self.ids_b):
            digest.update(np.fromiter(map(len, side), np.int64, len(side)).tobytes())
            for seq in side:
                digest.update(np.asarray(seq, np.int64).tobytes())

    def with_swaps(self, y) -> tuple[SiameseRows, np.ndarray]:
        """Each row followed by its A/B swap (the same two sequences exchanged), and the labels to match."""
        pairs, labels = with_swapped_rows(
            list(zip(self.ids_a, self.ids_b)), y, list(zip(self.ids_b, self.ids_a)), interleave=True
        )
        return SiameseRows([a for a, _ in pairs], [b for _, b in pairs], self.pad_id), labels
