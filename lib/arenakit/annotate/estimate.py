"""Token counts of the judge's requests, before anything is sent: what --dry-run prints to size a run.

    stats = token_estimate(builder, items[:2000])
    stats.shared, stats.conversation, stats.answer_short, stats.answer_reasons

shared: the system message and the few-shot examples, the same for every request (a server with
prefix caching, such as vLLM's, computes them once). conversation: each response's own part (the
prompt and the response, cut to the budget; mean, median, 95th percentile). answer: the JSON the
judge is asked for, with empty reasons and with six-word reasons. Counts are in the builder's
tokenizer's tokens; chat templates add a few per message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arenakit.annotate.prompt import PromptBuilder, answer_json

SIX_WORD_REASON = "states the fact without any hedging"


@dataclass(frozen=True)
class TokenEstimate:
    n: int
    shared: int
    conversation: np.ndarray
    answer_short: int
    answer_reasons: int
    chars: tuple[int, float, int, int]  # shared prefix, own part (mean), answers: the same in characters

    def lines(self) -> list[str]:
        c = self.conversation
        return [
            f"tokens per request over {self.n} responses (the budget tokenizer's): shared prefix {self.shared:,} "
            f"(system + few-shot), own part mean {c.mean():,.0f}, median {np.median(c):,.0f}, "
            f"95th percentile {np.percentile(c, 95):,.0f}, max {c.max():,}",
            f"answer: {self.answer_short:,} tokens with empty reasons, {self.answer_reasons:,} with six-word reasons",
            f"characters (a byte-level BPE such as Llama-3's or GPT-4's reads about 4 per token of English): shared "
            f"{self.chars[0]:,}, own part mean {self.chars[1]:,.0f}, answers {self.chars[2]:,} / {self.chars[3]:,}",
        ]


def token_estimate(builder: PromptBuilder, items: list) -> TokenEstimate:
    def count(text: str) -> int:
        return len(builder.tokenizer(text, add_special_tokens=False)["input_ids"])

    taxonomy = builder.taxonomy
    conversations = builder.conversations([(item.prompt_turns, item.response_turns) for item in items])
    head = builder.messages("")[:-1]
    ratings = {p.name: p.values[-1] for p in taxonomy.properties}
    short = answer_json(taxonomy, ratings)
    reasoned = answer_json(taxonomy, ratings, dict.fromkeys(taxonomy.names, SIX_WORD_REASON))
    shared = "".join(message["content"] for message in head)
    return TokenEstimate(
        len(items),
        sum(count(message["content"]) for message in head),
        np.array([count(text) for text in conversations]),
        count(short),
        count(reasoned),
        (len(shared), float(np.mean([len(text) for text in conversations])), len(short), len(reasoned)),
    )
