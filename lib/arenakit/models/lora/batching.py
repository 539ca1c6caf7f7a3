"""Model inputs of many rows (TokenRows), and length-grouped batches with dynamic padding.

    rows = TokenRows(ids, pad_id)                 # one token sequence per row
    rows.batch([3, 7, 9])                         # the model's keyword inputs for those rows, padded
    length_grouped_batches(rows.lengths, 8)       # index batches of rows of similar length
    token_budget_batches(rows.lengths, 8192)      # inference batches of at most 8192 padded tokens
    split_rows(rows.lengths, 2)                   # the rows each of two devices predicts

The training loop and inference see rows only through TokenRows' interface (len, lengths,
batch, update_digest), so an architecture that reads a row differently (two sequences a row, say)
brings its own rows class and reuses these.

Sorting by length makes each batch pad to the length of similar rows instead of max_length;
training shuffles within "megabatches" of similar length so batches stay random in order. A row
and its A/B swap can be kept in the same batch (swap_pairs). Inference batches may be capped by
padded tokens instead of rows: memory grows with rows x width, so a token budget fills a batch
with many short rows or a few long ones, where a row count must be sized for the longest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

# Rows sorted together before cutting into batches: big enough to group lengths, small enough
# to keep training batches random.
MEGABATCH = 50


def length_grouped_batches(lengths, batch_size: int, seed: int | None = None, pairs: bool = False) -> list[np.ndarray]:
    """Index batches of rows of similar length.

    seed None: one pass sorted longest first (inference; the biggest batch comes first, so an
    out-of-memory shows at once). With a seed: shuffled, grouped within megabatches, batch order
    shuffled (training). pairs=True treats rows 2k and 2k+1 (a row and its swap) as one unit.
    """
    lengths = np.asarray(lengths)
    unit = 2 if pairs else 1
    if pairs and len(lengths) % 2:
        raise ValueError("pairs=True needs an even number of rows (each row followed by its swap)")
    unit_lengths = lengths.reshape(-1, unit).max(axis=1)
    per_batch = max(1, batch_size // unit)
    if seed is None:
        order = np.argsort(-unit_lengths, kind="stable")
        groups = [order[i : i + per_batch] for i in range(0, len(order), per_batch)]
    else:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(unit_lengths))
        groups = []
        for start in range(0, len(order), per_batch * MEGABATCH):
            mega = order[start : start + per_batch * MEGABATCH]
            mega = mega[np.argsort(-unit_lengths[mega], kind="stable")]
            groups.extend(mega[i : i + per_batch] for i in range(0, len(mega), per_batch))
        groups = [groups[i] for i in rng.permutation(len(groups))]
    return [(group[:, None] * unit + np.arange(unit)).ravel() for group in groups]


def pad_batch(sequences: list[list[int]], pad_id: int, pad_to: int | None = None) -> dict[str, torch.Tensor]:
    """input_ids and attention_mask padded on the right to the longest sequence (or to pad_to)."""
    width = pad_to or max(len(seq) for seq in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@dataclass(frozen=True)
class TokenRows:
    """The token ids of each row as the model reads them, padded into batches on request."""

    ids: list[list[int]]
    pad_id: int

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens of each row: the width its batch pads to at least."""
        return np.fromiter((len(seq) for seq in self.ids), np.int64, len(self.ids))

    def batch(self, rows: Sequence[int], pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """The model's keyword inputs for these rows (input_ids, attention_mask), padded on the right."""
        return pad_batch([self.ids[i] for i in rows], self.pad_id, pad_to)

    def update_digest(self, digest) -> None:
        """Feed every token id to a hashlib digest (the training fingerprint)."""
        digest.update(self.lengths.tobytes())
        for seq in self.ids:
            digest.update(np.asarray(seq, np.int64).tobytes())


def token_budget_batches(lengths, max_batch_tokens: int) -> list[np.ndarray]:
    """Inference batches of rows sorted longest first, each at most max_batch_tokens padded tokens (rows x width).

    The first batch is the widest, so an out-of-memory error shows at once. A row longer than
    the budget gets a batch of its own.
    """
    if max_batch_tokens < 1:
        raise ValueError(f"max_batch_tokens must be a positive number of tokens; got {max_batch_tokens!r}")
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        per_batch = max(1, max_batch_tokens // max(1, int(lengths[order[start]])))
        batches.append(order[start : start + per_batch])
        start += per_batch
    return batches


def padded_tokens(lengths, batches: list[np.ndarray], pad_to: int | None = None) -> int:
    """Tokens the model computes for these batches, padding included (each batch is as wide as its longest row)."""
    lengths = np.asarray(lengths)
    return int(sum(len(batch) * (pad_to or int(lengths[batch].max())) for batch in batches if len(batch)))


def split_rows(lengths, n_parts: int) -> list[np.ndarray]:
    """Row indices for each of n_parts devices: dealt in turn down the length-sorted order, each part in row order.

    Every part gets a like share of long and short rows, so the devices finish together, and a
    slice of rows splits the way the whole does (a timing slice measures the full run's split).
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [np.sort(order[part::n_parts]) for part in range(n_parts)]
