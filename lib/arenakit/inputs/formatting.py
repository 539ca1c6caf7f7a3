"""The kit's one text formatter and truncation: training and inference build text with this code.

    texts = format_sides(frame, "a", tokenizer, max_tokens=256)       # "prompt [SEP] response A", per row
    text = format_side(prompt_turns, response_turns, tokenizer, 256)  # the same for one row

A conversation is one or more columns of turns (the prompt, then one or more responses). Its text
interleaves them turn by turn, p1 [SEP] r1 [SEP] p2 [SEP] r2, so turn i of the prompt sits beside
turn i of each response; a response with fewer turns than the prompt gets empty turns. Budgets are
counted in tokens of the given tokenizer, after its specials ([CLS] ... [SEP]) and the separators
(its sep token, spaced where spaces cost nothing, as with WordPiece). With headers (one per
column) the text takes the marked-section form a decoder reads instead,

    <bos><prompt>: p1\n\n<response_a>: a1\n\n<response_b>: b1\n\n<prompt>: p2 ...

where the headers' and blank lines' tokens count against the budget like separators, and nothing
follows the last piece (a decoder's classifier pools the last token). In both forms:

- the prompt gets at most prompt_share of the budget while the responses need the room; what
  either side leaves unused goes to the other;
- the responses share the rest by water-filling (allocate), so A and B get equal budgets when both
  are long; within a column its turns share its budget the same way;
- a long turn keeps its head and its tail (head_tail): the opening says what the answer is, the
  end how it concludes.

Texts are cut out of the ORIGINAL strings at token boundaries (the tokenizer's offsets), so case,
spacing and code survive. Every text is then tokenized again with the specials: a cut can
tokenize longer than the tokens it kept (a word split mid-way), and those few rows are cut again
with a smaller budget until they fit. Works with any Hugging Face fast tokenizer.

Any change to the output must bump FORMATTER_VERSION: models store it beside their weights and
refuse artifacts made with another version (check_formatter_version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from arenakit.core.errors import VersionMismatch, check_saved_version

FORMATTER_VERSION = 2

# The turn columns of each text kind, in the order they are interleaved.
TEXT_KINDS = {
    "a": ("prompt_turns", "response_turns_a"),
    "b": ("prompt_turns", "response_turns_b"),
    "prompt": ("prompt_turns",),
    "response_a": ("response_turns_a",),
    "response_b": ("response_turns_b",),
}
# Between marked sections (the decoder form): a blank line, as in the public LMSYS notebooks.
SECTION_JOINER = "\n\n"
# Strings per tokenizer call: offsets of 57k rows at once would take gigabytes of Python tuples.
_CHUNK = 2048
# Rounds of "tokenize again, cut again" before giving up; one is almost always enough.
_MAX_ROUNDS = 8


class FormatterVersionError(VersionMismatch):
    """Saved artifacts were made with text formatted by another formatter version."""


def check_formatter_version(saved: int) -> None:
    """Refuse artifacts whose text formatter differs: the model would read text unlike its training text."""
    try:
        check_saved_version("text formatter", saved, FORMATTER_VERSION)
    except VersionMismatch as error:
        raise FormatterVersionError(str(error)) from None


def allocate(lengths: Sequence[int], budget: int) -> list[int]:
    """Water-filling: each piece gets min(its length, a fair share); what short pieces leave goes to long ones.

    Pieces are served shortest first, each taking at most an equal split of what is left, so the
    result sums to min(sum(lengths), budget) and no piece gets more than one token above another
    piece that was also cut.
    """
    lengths = [max(0, int(length)) for length in lengths]
    shares = [0] * len(lengths)
    remaining = max(0, int(budget))
    for rank, index in enumerate(sorted(range(len(lengths)), key=lengths.__getitem__)):
        shares[index] = min(lengths[index], remaining // (len(lengths) - rank))
        remaining -= shares[index]
    return shares


def _head_count(budget: int, head_share: float) -> int:
    return min(budget, int(budget * head_share + 0.5))


def head_tail(ids: Sequence, budget: int, head_share: float = 0.5) -> list:
    """The first and last items of a sequence longer than budget (head_share of the budget to the head)."""
    budget = max(0, int(budget))
    if len(ids) <= budget:
        return list(ids)
    head = _head_count(budget, head_share)
    return list(ids[:head]) + list(ids[len(ids) - (budget - head) :])


@dataclass(frozen=True)
class _Turn:
    """One tokenized turn: enough of its offsets to cut it to any budget up to max_tokens."""

    text: str
    n_tokens: int
    head_ends: np.ndarray  # end character of each of the first max_tokens tokens
    tail_starts: np.ndarray  # start character of each of the last max_tokens tokens

    def cut(self, budget: int, head_share: float) -> str:
        if budget >= self.n_tokens:
            return self.text
        if budget <= 0:
            return ""
        head = _head_count(budget, head_share)
        tail = budget - head
        parts = []
        if head:
            parts.append(self.text[: self.head_ends[head - 1]])
        if tail:
            parts.append(self.text[self.tail_starts[len(self.tail_starts) - tail] :])
        return " ".join(parts)


_NO_OFFSETS = np.zeros(0, np.int32)
_EMPTY_TURN = _Turn("", 0, _NO_OFFSETS, _NO_OFFSETS)


@dataclass(frozen=True)
class _Layout:
    """How the pieces become one text: the marks around each piece and the specials around the text.

    Plain form (encoders): pieces joined by the tokenizer's separator; the tokenizer adds its own
    specials ([CLS] ... [SEP]). Marked sections (decoders): each piece opens with its column's
    header, pieces are joined by a blank line, and the text is preceded by the BOS token alone.
    """

    joiner: str
    joiner_cost: int
    headers: tuple[str, ...]  # before each column's piece; empty: no headers
    header_costs: tuple[int, ...]
    prefix_ids: tuple[int, ...] | None  # the ids before the text; None: the tokenizer's own specials
    specials: int

    @classmethod
    def of(cls, tokenizer, headers: Sequence[str] | None = None) -> _Layout:
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError(f"the formatter needs a fast tokenizer (offsets mapping); got {type(tokenizer).__name__}")

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        def joiner_cost(joiner: str) -> int:
            return max(0, count("a" + joiner + "b") - count("a") - count("b"))

        if headers is not None:
            header_costs = tuple(max(0, count(header + "b") - count("b")) for header in headers)
            bos = tokenizer.bos_token_id
            prefix = () if bos is None else (bos,)
            return cls(SECTION_JOINER, joiner_cost(SECTION_JOINER), tuple(headers), header_costs, prefix, len(prefix))
        sep = tokenizer.sep_token or tokenizer.eos_token
        # Spaces around the separator read better and cost nothing with WordPiece; SentencePiece
        # makes the space before it a token of its own, so there the bare separator is used.
        joiners = [f" {sep} ", sep] if sep else ["\n\n"]
        joiner = min(joiners, key=joiner_cost)
        return cls(joiner, joiner_cost(joiner), (), (), None, tokenizer.num_special_tokens_to_add(pair=False))

    def round_cost(self, n_columns: int) -> int:
        """Tokens the marks of one round take: a joiner and a header per column."""
        return n_columns * self.joiner_cost + sum(self.header_costs[:n_columns])

    def marks_cost(self, n_rounds: int, n_columns: int) -> int:
        """Tokens the marks of the whole text take (no joiner before the first piece)."""
        return n_rounds * self.round_cost(n_columns) - self.joiner_cost

    def join(self, pieces: list[list[str]], n_rounds: int) -> str:
        """One text from the cut pieces of each column, round by round."""
        headers = self.headers or ("",) * len(pieces)
        return self.joiner.join(headers[c] + pieces[c][i] for i in range(n_rounds) for c in range(len(pieces)))

    def token_ids(self, texts: list[str], tokenizer) -> list[list[int]]:
        """The ids the model reads for each text: the tokenizer's specials, or the prefix ids then the text's."""
        ids = []
        for start in range(0, len(texts), _CHUNK):
            ids.extend(
                tokenizer(
                    texts[start : start + _CHUNK],
                    add_special_tokens=self.prefix_ids is None,
                    return_attention_mask=False,
                    return_token_type_ids=False,
                    verbose=False,
                )["input_ids"]
            )
        if self.prefix_ids is None:
            return ids
        return [[*self.prefix_ids, *row] for row in ids]


@dataclass(frozen=True)
class _Rules:
    """The budget rules of one format_conversations call."""

    max_tokens: int
    prompt_share: float | None
    head_share: float
    keep_turns: str


def _tokenize_turns(strings: Sequence[str], tokenizer, keep: int) -> dict[str, _Turn]:
    """Tokenize each distinct string once (batched), keeping the offsets of its first and last `keep` tokens."""
    turns = {"": _EMPTY_TURN}
    unique = [text for text in dict.fromkeys(strings) if text]
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        encoded = tokenizer(
            chunk,
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        for text, offsets in zip(chunk, encoded["offset_mapping"]):
            head = np.fromiter((end for _, end in offsets[:keep]), np.int32)
            tail = np.fromiter((begin for begin, _ in offsets[-keep:]), np.int32) if offsets else _NO_OFFSETS
            turns[text] = _Turn(text, len(offsets), head, tail)
    return turns


def _tokenized_conversations(conversations, tokenizer, keep: int) -> list[list[tuple[_Turn, ...]]]:
    """Each conversation's columns as tuples of tokenized turns."""
    conversations = [[tuple(column) for column in conversation] for conversation in conversations]
    turns = _tokenize_turns([t for conv in conversations for column in conv for t in column], tokenizer, keep)
    return [[tuple(turns[t] for t in column) for column in conv] for conv in conversations]


def _column_budgets(totals: list[int], budget: int, prompt_share: float | None) -> list[int]:
    if prompt_share is None or len(totals) == 1:
        return allocate(totals, budget)
    capped = min(totals[0], int(budget * prompt_share))
    shares = allocate([capped, *totals[1:]], budget)
    # The cap holds only while the responses need the room: what they leave goes back to the prompt.
    shares[0] += min(totals[0] - shares[0], budget - sum(shares))
    return shares


def _aligned_rounds(columns: list[tuple[_Turn, ...]]) -> list[tuple[_Turn, ...]]:
    """Every column with as many turns as the longest: turn i of each is round i (missing turns are empty)."""
    n_rounds = max(1, max(len(column) for column in columns))
    return [column + (_EMPTY_TURN,) * (n_rounds - len(column)) for column in columns]


def _latest_rounds(columns: list[tuple[_Turn, ...]], room: int, layout: _Layout) -> int:
    """How many of the latest rounds (turn i of every column) fit the room whole; at least the last one."""
    used, kept = -layout.joiner_cost, 0
    for i in reversed(range(len(columns[0]))):
        used += sum(column[i].n_tokens for column in columns) + layout.round_cost(len(columns))
        if used > room and kept:
            break
        kept += 1
    return kept


def _kept_rounds(columns: list[tuple[_Turn, ...]], room: int, layout: _Layout, rules: _Rules):
    """The rounds that take part: the latest that fit (keep_turns="latest"), then at most as many as the marks allow."""
    if rules.keep_turns == "latest":
        # A cross-encoder judges the last answers: older rounds go first, whole, when the room is short.
        kept = _latest_rounds(columns, room, layout)
        columns = [column[len(column) - kept :] for column in columns]
    # Marks may take at most half the room; beyond that, keep the first and last rounds.
    mark_cost = -(-layout.round_cost(len(columns)) // len(columns))
    max_rounds = max(1, (room // 2 // max(1, mark_cost) + 1) // len(columns))
    if len(columns[0]) > max_rounds:
        columns = [tuple(head_tail(column, max_rounds, rules.head_share)) for column in columns]
    return columns


def _cut_pieces(columns: list[tuple[_Turn, ...]], budget: int, rules: _Rules) -> list[list[str]]:
    """Each turn's text cut to its share: columns share the budget (the prompt capped), turns their column's."""
    totals = [sum(turn.n_tokens for turn in column) for column in columns]
    pieces = []
    for column, column_budget in zip(columns, _column_budgets(totals, budget, rules.prompt_share)):
        shares = allocate([turn.n_tokens for turn in column], column_budget)
        pieces.append([turn.cut(share, rules.head_share) for turn, share in zip(column, shares)])
    return pieces


def _compose(columns: list[tuple[_Turn, ...]], layout: _Layout, rules: _Rules, slack: int) -> str:
    """One conversation's text within max_tokens - slack tokens, specials and marks included."""
    room = rules.max_tokens - layout.specials - slack
    columns = _kept_rounds(_aligned_rounds(columns), room, layout, rules)
    n_rounds = len(columns[0])
    budget = max(0, room - layout.marks_cost(n_rounds, len(columns)))
    return layout.join(_cut_pieces(columns, budget, rules), n_rounds)


def _fit(tokenized, tokenizer, layout: _Layout, rules: _Rules) -> tuple[list[str], list[list[int]]]:
    """Compose every text, tokenize it, and cut again with more slack those that came out too long."""
    texts: list[str] = [""] * len(tokenized)
    ids: list[list[int]] = [[] for _ in tokenized]
    slack = [0] * len(tokenized)
    todo = list(range(len(tokenized)))
    for _ in range(_MAX_ROUNDS):
        for i in todo:
            texts[i] = _compose(tokenized[i], layout, rules, slack[i])
        for i, row_ids in zip(todo, layout.token_ids([texts[i] for i in todo], tokenizer)):
            ids[i] = row_ids
            slack[i] += max(0, len(row_ids) - rules.max_tokens)
        todo = [i for i in todo if len(ids[i]) > rules.max_tokens]
        if not todo:
            return texts, ids
    raise ValueError(
        f"{len(todo)} text(s) still exceed max_tokens={rules.max_tokens} after {_MAX_ROUNDS} cuts: the marks of "
        "their rounds leave no room for text at this length; raise max_tokens (max_length in the models)"
    )


def format_conversations(
    conversations: Sequence[Sequence[Sequence[str]]],
    tokenizer,
    max_tokens: int,
    prompt_share: float | None = None,
    head_share: float = 0.5,
    return_ids: bool = False,
    keep_turns: str = "ends",
    headers: Sequence[str] | None = None,
) -> list[str] | tuple[list[str], list[list[int]]]:
    """The text of each conversation (a tuple of turn columns, the prompt first), fitted to max_tokens.

    prompt_share caps the first column while the others need the room (None: no cap). keep_turns
    says which rounds survive when they do not all fit: "ends" keeps every round (cut to share the
    room) until the marks would take half of it, then the first and last; "latest" keeps the
    latest rounds that fit whole (at least the last one, cut when it alone is too long). headers
    (one per column) give the marked-section form a decoder reads: each piece opens with its
    column's header, pieces are separated by a blank line, and the ids are the BOS token (when the
    tokenizer has one) then the text's, nothing after. With return_ids, also the token ids of each
    text as the model will see them: the fit check has computed them already, so the embedder
    need not tokenize again.
    """
    if keep_turns not in ("ends", "latest"):
        raise ValueError(f"keep_turns must be 'ends' or 'latest'; got {keep_turns!r}")
    layout = _Layout.of(tokenizer, headers)
    n_columns = max((len(conversation) for conversation in conversations), default=1)
    # The least a text can take: the specials, then one round's marks and headers, then a token per column.
    least = layout.specials + layout.marks_cost(1, n_columns) + n_columns
    if max_tokens < least:
        raise ValueError(
            f"max_tokens={max_tokens} is too short: the tokenizer's specials and the marks of one round of "
            f"{n_columns} column(s) take {least - n_columns} tokens before any text; give at least {least}, "
            "and more for the text to say anything (max_length is this setting in the models)"
        )
    rules = _Rules(max_tokens, prompt_share, head_share, keep_turns)
    texts, ids = _fit(_tokenized_conversations(conversations, tokenizer, max_tokens), tokenizer, layout, rules)
    return (texts, ids) if return_ids else texts


def format_side(
    prompt_turns: Sequence[str],
    response_turns: Sequence[str],
    tokenizer,
    max_tokens: int,
    prompt_share: float = 0.3,
    head_share: float = 0.5,
) -> str:
    """The text of one side of one row: prompt and response turns interleaved, fitted to max_tokens."""
    return format_conversations([(prompt_turns, response_turns)], tokenizer, max_tokens, prompt_share, head_share)[0]


def format_sides(
    frame: pd.DataFrame,
    side: str,
    tokenizer,
    max_tokens: int,
    prompt_share: float = 0.3,
    head_share: float = 0.5,
) -> list[str]:
    """The text of one kind for every row of a parsed frame, in frame order.

    side "a" / "b": prompt and that response interleaved (format_side); "prompt", "response_a",
    "response_b": that field alone, its turns joined by the separator.
    """
    if side not in TEXT_KINDS:
        raise ValueError(f"side must be one of {', '.join(TEXT_KINDS)}; got {side!r}")
    columns = [frame[column] for column in TEXT_KINDS[side]]
    return format_conversations(list(zip(*columns)), tokenizer, max_tokens, prompt_share, head_share)
