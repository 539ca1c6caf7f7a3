"""The cross-encoder input, one function for training and inference.

    ids = cross_encoder_ids(frame, tokenizer, max_length=512)     # token ids per row, specials included
    texts = cross_encoder_texts(frame, tokenizer, max_length=512)  # the same rows as text (reports, tests)

A row reads [CLS] prompt [SEP] response A [SEP] response B [SEP] (the tokenizer's own specials and
separator); a multi-turn row interleaves the rounds, p1 a1 b1 p2 a2 b2, so turn i of the prompt
sits next to turn i of each response. The budget rules are the kit formatter's
(arenakit.formatting): the prompt gets a capped share, A and B equal budgets, a long turn keeps its
head and tail; when rounds do not all fit, the latest rounds are kept. FORMATTER_VERSION is saved
with the adapters and checked at load.
"""

from __future__ import annotations

import pandas as pd

from arenakit.formatting import format_conversations

COLUMNS = ("prompt_turns", "response_turns_a", "response_turns_b")
# The prompt's cap: the judgement is about the responses; 20% keeps the question readable.
PROMPT_SHARE = 0.2


def _conversations(frame: pd.DataFrame) -> list:
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks {', '.join(missing)}: pass rows parsed by arenakit.data (load_competition)")
    return list(zip(*(frame[column] for column in COLUMNS)))


def cross_encoder_ids(
    frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float = PROMPT_SHARE, head_share: float = 0.5
) -> list[list[int]]:
    """Token ids (with the tokenizer's specials) of every row, each at most max_length long."""
    _, ids = format_conversations(
        _conversations(frame), tokenizer, max_length, prompt_share, head_share, return_ids=True, keep_turns="latest"
    )
    return ids


def cross_encoder_texts(
    frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float = PROMPT_SHARE, head_share: float = 0.5
) -> list[str]:
    """The text each row is tokenized from (without the outer specials)."""
    return format_conversations(
        _conversations(frame), tokenizer, max_length, prompt_share, head_share, keep_turns="latest"
    )
