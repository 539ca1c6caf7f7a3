"""The judge's messages for one response, as in the paper: task, scale, definitions, template, few-shot, the conversation.

    builder = PromptBuilder(taxonomy, tokenizer, max_conversation_tokens=2048)
    messages = builder.messages(texts[0])                          # chat-completions messages
    texts = builder.conversations([(prompt_turns, response_turns), ...])  # cut to the budget, batched

A response is rated with its prompt and nothing of the other response (per response, as in the
paper), so its ratings cannot depend on the A/B order. The conversation (the prompt's and the
response's turns interleaved, each opened by a header) is cut to max_conversation_tokens by the
kit's formatter: a long turn keeps its head and its tail, the prompt takes at most 30% while the
response needs the room. Tokens are those of the given tokenizer (the local judge's own; for an
API judge, the bundled MiniLM WordPiece, close to but not the judge's count).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from arenakit.data.taxonomy import Taxonomy
from arenakit.inputs.formatting import format_conversations

# Bump when the wording or layout of the messages changes: records are keyed by it (with the taxonomy's version).
PROMPT_VERSION = 1
HEADERS = ("[User]\n", "[Assistant]\n")
PROMPT_SHARE = 0.3
DEFAULT_MAX_CONVERSATION_TOKENS = 2048


def answer_json(taxonomy: Taxonomy, ratings: dict, reasons: dict | None = None) -> str:
    """The answer the judge is asked for: {property: {"reason": ..., "rating": ...}} in taxonomy order."""
    reasons = reasons or {}
    answer = {name: {"reason": reasons.get(name, ""), "rating": ratings[name]} for name in taxonomy.names}
    return json.dumps(answer, ensure_ascii=False)


def system_message(taxonomy: Taxonomy) -> str:
    scale = "\n".join(f"  {value}: {meaning}" for value, meaning in taxonomy.scale.items())
    yes_no = "\n".join(f"  {value}: {meaning}" for value, meaning in taxonomy.yes_no.items())
    definitions = "\n".join(
        f"- {p.name} ({'0-3' if p.kind == 'rating' else '0/1'}): {p.definition}" for p in taxonomy.properties
    )
    template = ", ".join(
        f'"{p.name}": {{"reason": "...", "rating": {"0-3" if p.kind == "rating" else "0 or 1"}}}'
        for p in taxonomy.properties
    )
    return (
        f"{taxonomy.task}\n\nRatings 0-3:\n{scale}\n\nYes/no properties (0 or 1):\n{yes_no}\n\n"
        f"Properties:\n{definitions}\n\nAnswer with exactly this JSON object (every property, integer ratings):\n"
        f"{{{template}}}"
    )


def conversation_text(prompt: str, response: str) -> str:
    return f"{HEADERS[0]}{prompt}\n\n{HEADERS[1]}{response}"


def fold_system(messages: list[dict]) -> list[dict]:
    """The messages without a system role: its text opens the first user message (Gemma's templates refuse the role)."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, first, *rest = messages
    return [{"role": "user", "content": f"{system['content']}\n\n{first['content']}"}, *rest]


class PromptBuilder:
    def __init__(
        self,
        taxonomy: Taxonomy,
        tokenizer,
        max_conversation_tokens: int = DEFAULT_MAX_CONVERSATION_TOKENS,
        system_role: bool = True,
    ):
        self.taxonomy = taxonomy
        self.system_role = system_role
        self.tokenizer = tokenizer
        self.max_conversation_tokens = max_conversation_tokens
        self._head = [{"role": "system", "content": system_message(taxonomy)}]
        for example in taxonomy.examples:
            self._head.append({"role": "user", "content": conversation_text(example["prompt"], example["response"])})
            self._head.append(
                {"role": "assistant", "content": answer_json(taxonomy, example["ratings"], example.get("reasons"))}
            )

    def conversations(self, conversations: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[str]:
        """Each (prompt turns, response turns) as the judge reads it, cut to the token budget."""
        if not conversations:
            return []
        return format_conversations(
            conversations, self.tokenizer, self.max_conversation_tokens, prompt_share=PROMPT_SHARE, headers=HEADERS
        )

    def messages(self, conversation: str) -> list[dict]:
        """The chat-completions messages for one conversation text (from conversations())."""
        messages = [*self._head, {"role": "user", "content": conversation}]
        return messages if self.system_role else fold_system(messages)
