"""The one formatter: budgets, head and tail, aligned turns, and texts that fit max_tokens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenakit.inputs.formatting import (
    FORMATTER_VERSION,
    FormatterVersionError,
    allocate,
    check_formatter_version,
    format_conversations,
    format_side,
    format_sides,
    head_tail,
)

MAX_TOKENS = 96
WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches".split()


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from arenakit.inputs.embedder import default_model_path

    return AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)


@pytest.fixture(scope="module")
def unigram_tokenizer():
    """A SentencePiece-style (Metaspace, Unigram) tokenizer like DeBERTa-v3's, trained here in a second."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.Unigram())
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    corpus = [" ".join(np.random.default_rng(i).choice(WORDS, 40)) for i in range(200)]
    backend.train_from_iterator(
        corpus,
        trainers.UnigramTrainer(vocab_size=60, special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]"], unk_token="[UNK]"),
    )
    from tokenizers.processors import TemplateProcessing

    backend.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]"
    )


def words(n: int, seed: int = 0) -> str:
    return " ".join(np.random.default_rng(seed).choice(WORDS, n))


def n_tokens(tokenizer, text: str, specials: bool = True) -> int:
    return len(tokenizer(text, add_special_tokens=specials)["input_ids"])


def test_formatter_version_check():
    check_formatter_version(FORMATTER_VERSION)
    with pytest.raises(
        FormatterVersionError,
        match=rf"version {FORMATTER_VERSION + 1}.*version {FORMATTER_VERSION}.*retrain or use the kit version",
    ):
        check_formatter_version(FORMATTER_VERSION + 1)


def test_allocate_water_fills():
    rng = np.random.default_rng(0)
    for _ in range(500):
        lengths = rng.integers(0, 100, rng.integers(1, 7)).tolist()
        budget = int(rng.integers(0, 400))
        shares = allocate(lengths, budget)
        assert sum(shares) == min(sum(lengths), budget)
        assert all(0 <= share <= length for share, length in zip(shares, lengths))
        cut = [share for share, length in zip(shares, lengths) if share < length]
        # A cut piece gets no less than any other piece, give or take the rounding token.
        assert all(share >= max(shares) - 1 for share in cut)
    assert allocate([10, 500, 500], 210) == [10, 100, 100]
    assert allocate([], 10) == [] and allocate([5], -3) == [0]


def test_head_tail():
    ids = list(range(100))
    assert head_tail(ids, 200) == ids
    assert head_tail(ids, 0) == []
    kept = head_tail(ids, 10)
    assert kept == [0, 1, 2, 3, 4, 95, 96, 97, 98, 99]
    assert head_tail(ids, 10, head_share=0.8) == [0, 1, 2, 3, 4, 5, 6, 7, 98, 99]
    assert head_tail(ids, 3, head_share=1.0) == [0, 1, 2]


def test_long_response_keeps_head_and_tail_and_fits(tokenizer):
    response = "OPENING line. " + words(600) + " MIDDLEWORD " + words(600, seed=1) + " Closing LINE."
    text = format_side(["What Is This?"], [response], tokenizer, MAX_TOKENS)
    assert n_tokens(tokenizer, text) <= MAX_TOKENS
    assert n_tokens(tokenizer, text) >= MAX_TOKENS - 4  # the budget is used, not wasted
    assert text.startswith("What Is This? [SEP] OPENING line.")  # original case and spacing kept
    assert text.endswith("Closing LINE.")
    assert "MIDDLEWORD" not in text


def test_multi_turn_aligned_and_fits(tokenizer):
    prompts = [f"P{i}x " + words(150, seed=i) for i in range(4)]
    responses = [f"R{i}x " + words(300, seed=10 + i) for i in range(4)]
    text = format_side(prompts, responses, tokenizer, MAX_TOKENS)
    assert n_tokens(tokenizer, text) <= MAX_TOKENS
    pieces = text.split(" [SEP] ")
    assert len(pieces) == 8
    assert [piece.split()[0] for piece in pieces] == ["P0x", "R0x", "P1x", "R1x", "P2x", "R2x", "P3x", "R3x"]


def test_missing_response_turns_are_empty(tokenizer):
    text = format_side(["first question", "second question", "third"], ["only answer"], tokenizer, MAX_TOKENS)
    assert text.split(" [SEP] ") == ["first question", "only answer", "second question", "", "third", ""]


def test_prompt_share_is_a_cap_only_when_the_response_needs_room(tokenizer):
    prompt, response = words(500, seed=2), words(500, seed=3)
    budget = MAX_TOKENS - 2 - 1  # [CLS] ... [SEP] and one separator
    text = format_side([prompt], [response], tokenizer, MAX_TOKENS, prompt_share=0.3)
    prompt_part, response_part = text.split(" [SEP] ")
    assert n_tokens(tokenizer, prompt_part, specials=False) <= int(0.3 * budget)
    assert n_tokens(tokenizer, response_part, specials=False) >= budget - int(0.3 * budget) - 2
    short = format_side([prompt], ["yes"], tokenizer, MAX_TOKENS, prompt_share=0.3)
    assert n_tokens(tokenizer, short.split(" [SEP] ")[0], specials=False) > 0.8 * budget


def test_fits_with_a_sentencepiece_style_tokenizer(unigram_tokenizer):
    conversations = [([words(300, seed=s)], [words(20 + 50 * s, seed=s + 1), words(400, seed=s + 2)]) for s in range(6)]
    texts = format_conversations(conversations, unigram_tokenizer, 48, prompt_share=0.3)
    assert all(n_tokens(unigram_tokenizer, text) <= 48 for text in texts)
    assert all(text.count("[SEP]") == 3 for text in texts)


def test_format_sides_matches_format_side_and_fits(tokenizer):
    frame = pd.DataFrame(
        {
            "prompt_turns": [("hi",), ("Q one", "Q two"), (words(400),), ("",)],
            "response_turns_a": [("hello there",), (words(200), words(300)), (words(50),), ("",)],
            "response_turns_b": [(words(500),), ("A",), ("",), ("x",)],
        }
    )
    for side in ("a", "b"):
        texts = format_sides(frame, side, tokenizer, MAX_TOKENS)
        column = frame[f"response_turns_{side}"]
        assert texts == [format_side(p, r, tokenizer, MAX_TOKENS) for p, r in zip(frame["prompt_turns"], column)]
        assert all(n_tokens(tokenizer, text) <= MAX_TOKENS for text in texts)
    alone = format_sides(frame, "prompt", tokenizer, MAX_TOKENS)
    assert alone[:2] == ["hi", "Q one [SEP] Q two"]
    with pytest.raises(ValueError, match="side must be one of"):
        format_sides(frame, "c", tokenizer, MAX_TOKENS)


def test_real_rows_fit(tokenizer, real_sample_dir):
    from arenakit.data import load_competition

    frame = load_competition(real_sample_dir, warn=False).train.iloc[:200]
    texts, ids = format_conversations(
        list(zip(frame["prompt_turns"], frame["response_turns_a"])), tokenizer, MAX_TOKENS, 0.3, return_ids=True
    )
    assert max(map(len, ids)) <= MAX_TOKENS
    assert ids == tokenizer(texts)["input_ids"]


def test_a_length_too_short_for_the_marks_is_refused_with_the_least_that_fits(tokenizer):
    headers = ("Prompt:\n", "Response A:\n", "Response B:\n")
    conversations = [((words(30),), (words(30, 1),), (words(30, 2),))]
    with pytest.raises(ValueError, match=r"max_tokens=8 is too short: .* give at least (\d+)") as refused:
        format_conversations(conversations, tokenizer, 8, headers=headers)
    least = int(refused.value.args[0].split("give at least ")[1].split(",")[0])
    texts, ids = format_conversations(conversations, tokenizer, least, headers=headers, return_ids=True)
    assert len(ids[0]) <= least and texts[0].startswith("Prompt:")
