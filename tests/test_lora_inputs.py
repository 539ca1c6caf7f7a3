"""The cross-encoder input: exact budgets, no starved segment, latest turns kept, golden strings."""

from __future__ import annotations

import pandas as pd
import pytest

from arenakit.models.lora.inputs import cross_encoder_ids, cross_encoder_texts


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from arenakit.inputs.backbones import resolve_backbone
    from arenakit.models.lora.backbone import load_tokenizer

    return load_tokenizer(resolve_backbone("minilm"))


@pytest.fixture(scope="module")
def deberta_tokenizer(tiny_deberta_dir):
    from arenakit.models.lora.backbone import load_tokenizer

    return load_tokenizer(tiny_deberta_dir)


def rows(*conversations) -> pd.DataFrame:
    return pd.DataFrame(
        [{"prompt_turns": p, "response_turns_a": a, "response_turns_b": b} for p, a, b in conversations]
    )


def words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_short_row_golden_string(minilm_tokenizer):
    frame = rows((["Which is bigger, 9.11 or 9.9?"], ["9.9 is bigger."], ["9.11 is bigger."]))
    assert cross_encoder_texts(frame, minilm_tokenizer, 64) == [
        "Which is bigger, 9.11 or 9.9? [SEP] 9.9 is bigger. [SEP] 9.11 is bigger."
    ]
    ids = cross_encoder_ids(frame, minilm_tokenizer, 64)[0]
    assert (
        minilm_tokenizer.decode(ids)
        == "[CLS] which is bigger, 9. 11 or 9. 9? [SEP] 9. 9 is bigger. [SEP] 9. 11 is bigger. [SEP]"
    )


def test_multi_turn_golden_string_keeps_rounds_aligned(minilm_tokenizer):
    frame = rows((["Hi", "Tell a joke"], ["Hello!", "Why did the chicken cross?"], ["Hey.", "No jokes today."]))
    assert cross_encoder_texts(frame, minilm_tokenizer, 64) == [
        "Hi [SEP] Hello! [SEP] Hey. [SEP] Tell a joke [SEP] Why did the chicken cross? [SEP] No jokes today."
    ]


def test_sentencepiece_golden_string(deberta_tokenizer):
    frame = rows((["the Roman Empire"], ["the Ming dynasty"], ["the Silk Road"]))
    text = cross_encoder_texts(frame, deberta_tokenizer, 64)[0]
    assert text == "the Roman Empire [SEP] the Ming dynasty [SEP] the Silk Road"
    tokens = deberta_tokenizer.convert_ids_to_tokens(cross_encoder_ids(frame, deberta_tokenizer, 64)[0])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokens.count("[SEP]") == 3


@pytest.mark.parametrize("max_length", [64, 128, 257])
def test_exact_budget_prompt_cap_and_equal_responses(minilm_tokenizer, max_length):
    frame = rows(([words("p", 400)], [words("a", 400)], [words("b", 400)]))
    ids = cross_encoder_ids(frame, minilm_tokenizer, max_length)[0]
    assert len(ids) == max_length  # the budget is used to the token, never exceeded
    prompt, a, b = cross_encoder_texts(frame, minilm_tokenizer, max_length)[0].split(" [SEP] ")
    room = max_length - 3 - 2  # [CLS], [SEP] and the two separators
    assert count(minilm_tokenizer, prompt) <= int(room * 0.2) + 1
    assert abs(count(minilm_tokenizer, a) - count(minilm_tokenizer, b)) <= 1
    # head and tail of each long text survive
    assert a.startswith("a0 a1") and a.endswith("a399") and b.startswith("b0") and b.endswith("b399")


def test_no_segment_starved_when_another_is_huge(minilm_tokenizer):
    frame = rows((["short question?"], [words("a", 5000)], ["a short answer"]))
    prompt, a, b = cross_encoder_texts(frame, minilm_tokenizer, 128)[0].split(" [SEP] ")
    assert prompt == "short question?" and b == "a short answer"  # kept whole
    assert (
        126 <= len(cross_encoder_ids(frame, minilm_tokenizer, 128)[0]) <= 128
    )  # A takes the rest (cuts may retokenize shorter)


def test_prompt_gets_unused_room(minilm_tokenizer):
    frame = rows(([words("p", 300)], ["yes"], ["no"]))
    prompt, a, b = cross_encoder_texts(frame, minilm_tokenizer, 100)[0].split(" [SEP] ")
    assert (a, b) == ("yes", "no") and count(minilm_tokenizer, prompt) > 20  # the cap yields when responses are short


def test_latest_rounds_kept_when_budget_is_short(minilm_tokenizer):
    rounds = 6
    frame = rows(
        (
            [f"question {i} " + words("q", 20) for i in range(rounds)],
            [f"answer {i} " + words("x", 20) for i in range(rounds)],
            [f"reply {i} " + words("y", 20) for i in range(rounds)],
        )
    )
    text = cross_encoder_texts(frame, minilm_tokenizer, 200)[0]
    pieces = text.split(" [SEP] ")
    assert len(pieces) % 3 == 0 and 0 < len(pieces) < 3 * rounds
    assert (
        pieces[-3].startswith("question 5") and pieces[-2].startswith("answer 5") and pieces[-1].startswith("reply 5")
    )
    assert "question 0" not in text
    kept = len(pieces) // 3
    assert [piece.split()[1] for piece in pieces[0::3]] == [str(i) for i in range(rounds - kept, rounds)]


def test_single_long_last_round_is_cut_not_dropped(minilm_tokenizer):
    frame = rows((["old question", words("p", 300)], ["old answer", words("a", 300)], ["old reply", words("b", 300)]))
    text = cross_encoder_texts(frame, minilm_tokenizer, 96)[0]
    assert "old" not in text and text.count(" [SEP] ") == 2
    assert len(cross_encoder_ids(frame, minilm_tokenizer, 96)[0]) == 96


def test_missing_columns_get_a_clear_error(minilm_tokenizer):
    with pytest.raises(ValueError, match="lacks response_turns_b.*load_competition"):
        cross_encoder_ids(pd.DataFrame({"prompt_turns": [["x"]], "response_turns_a": [["y"]]}), minilm_tokenizer, 32)


@pytest.fixture(scope="module")
def decoder_tokenizers(tiny_decoder_dir):
    from arenakit.models.lora.backbone import load_tokenizer

    return {kind: load_tokenizer(tiny_decoder_dir(kind)) for kind in ("llama", "qwen2")}


def test_decoder_golden_string_marks_sections_bos_first_nothing_after_b(decoder_tokenizers):
    frame = rows((["Which is bigger, 9.11 or 9.9?"], ["9.9 is bigger."], ["9.11 is bigger."]))
    expected = (
        "<prompt>: Which is bigger, 9.11 or 9.9?\n\n<response_a>: 9.9 is bigger.\n\n<response_b>: 9.11 is bigger."
    )
    llama, qwen = decoder_tokenizers["llama"], decoder_tokenizers["qwen2"]
    assert cross_encoder_texts(frame, llama, 128) == [expected]
    ids = cross_encoder_ids(frame, llama, 128)[0]
    assert ids == [llama.bos_token_id] + llama(expected, add_special_tokens=False)["input_ids"]
    assert llama.decode(ids[1:]) == expected  # B's text is the last thing the decoder reads
    # Qwen-2's tokenizer has no BOS: the text alone.
    assert cross_encoder_ids(frame, qwen, 128)[0] == qwen(expected, add_special_tokens=False)["input_ids"]


def test_decoder_multi_turn_golden_string_marks_every_round(decoder_tokenizers):
    frame = rows((["Hi", "Tell a joke"], ["Hello!", "Why did the chicken cross?"], ["Hey.", "No jokes today."]))
    assert cross_encoder_texts(frame, decoder_tokenizers["llama"], 128) == [
        "<prompt>: Hi\n\n<response_a>: Hello!\n\n<response_b>: Hey.\n\n"
        "<prompt>: Tell a joke\n\n<response_a>: Why did the chicken cross?\n\n<response_b>: No jokes today."
    ]


@pytest.mark.parametrize("max_length", [64, 200])
def test_decoder_budget_rules_are_the_formatters(decoder_tokenizers, max_length):
    tokenizer = decoder_tokenizers["llama"]
    frame = rows(([words("p", 400)], [words("a", 400)], [words("b", 400)]))
    ids = cross_encoder_ids(frame, tokenizer, max_length)[0]
    assert max_length - 3 <= len(ids) <= max_length  # the budget is used (cuts may retokenize shorter)
    prompt, a, b = (
        piece.split(": ", 1)[1] for piece in cross_encoder_texts(frame, tokenizer, max_length)[0].split("\n\n")
    )
    assert count(tokenizer, prompt) <= int(max_length * 0.2) + 1
    assert abs(count(tokenizer, a) - count(tokenizer, b)) <= 2
    assert a.startswith("a0") and a.endswith("a399") and b.startswith("b0") and b.endswith("b399")
    latest = rows((["old question", words("p", 300)], ["old answer", words("a", 300)], ["old reply", words("b", 300)]))
    text = cross_encoder_texts(latest, tokenizer, max_length)[0]
    assert "old" not in text and text.startswith("<prompt>: p0") and text.count("<response_b>: ") == 1
