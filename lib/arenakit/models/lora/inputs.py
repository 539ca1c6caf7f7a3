"""The classifier's input, one function for training and inference, in an encoder's or a decoder's form.

    ids = cross_encoder_ids(frame, tokenizer, max_length=512)     # token ids per row, specials included
    texts = cross_encoder_texts(frame, tokenizer, max_length=512)  # the same rows as text (reports, tests)

An encoder (its tokenizer has a CLS token: BERT, DeBERTa, RoBERTa) reads
[CLS] prompt [SEP] response A [SEP] response B [SEP], with the tokenizer's own specials and
separator. A decoder (no CLS token: Llama, Gemma, Qwen, Mistral) reads marked sections,

    <bos><prompt>: ...\\n\\n<response_a>: ...\\n\\n<response_b>: ...

the BOS token (when the tokenizer has one) and nothing after B's text, so the classifier's
last-token pooling reads the end of the comparison. The headers are plain text rather than the
model's chat template: they read the same to base and instruct checkpoints, they are what the
public LMSYS Gemma notebooks trained with, and a chat template would wrap the two responses in
user/assistant turns that the A/B comparison does not have (B is not a reply to A).

A multi-turn row interleaves the rounds, p1 a1 b1 p2 a2 b2 (each piece with its header in the
decoder form), so turn i of the prompt sits next to turn i of each response. The budget rules are
the kit formatter's (arenakit.inputs.formatting): the prompt gets a capped share, A and B equal budgets,
a long turn keeps its head and tail; when rounds do not all fit, the latest rounds are kept.
FORMATTER_VERSION is saved with the adapters and checked at load.
"""

from __future__ import annotations

import pandas as pd

from arenakit.inputs.formatting import format_conversations

COLUMNS = ("prompt_turns", "response_turns_a", "response_turns_b")
# The prompt's cap: the judgement is about the responses; 20% keeps the question readable.
PROMPT_SHARE = 0.2
# The decoder form's section headers, one per column (the public Gemma-2 notebooks' markers).
SECTION_HEADERS = ("<prompt>: ", "<response_a>: ", "<response_b>: ")


def reads_sections(tokenizer) -> bool:
    """Whether the model of this tokenizer is a decoder, which reads the marked-section form (no CLS token)."""
    return tokenizer.cls_token is None


def _conversations(frame: pd.DataFrame) -> list:
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the frame lacks {', '.join(missing)}: pass rows parsed by arenakit.data.competition (load_competition)"
        )
    return list(zip(*(frame[column] for column in COLUMNS)))


def _format(frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float, head_share: float, return_ids):
    return format_conversations(
        _conversations(frame),
        tokenizer,
        max_length,
        prompt_share,
        head_share,
        return_ids=return_ids,
        keep_turns="latest",
        headers=SECTION_HEADERS if reads_sections(tokenizer) else None,
    )


def cross_encoder_ids(
    frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float = PROMPT_SHARE, head_share: float = 0.5
) -> list[list[int]]:
    """Token ids (with the tokenizer's specials, or BOS for a decoder) of every row, each at most max_length long."""
    return _format(frame, tokenizer, max_length, prompt_share, head_share, return_ids=True)[1]


def cross_encoder_texts(
    frame: pd.DataFrame, tokenizer, max_length: int, prompt_share: float = PROMPT_SHARE, head_share: float = 0.5
) -> list[str]:
    """The text each row is tokenized from (without the outer specials)."""
    return _format(frame, tokenizer, max_length, prompt_share, head_share, return_ids=False)
