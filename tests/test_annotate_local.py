"""--local: a tiny random decoder as the judge, loaded by the kit's decoder loading. Its output is
garbage, so every response must end unparsable, with the raw text, after exactly one repair."""

from __future__ import annotations

import pytest

from annotate_helpers import read_records, write_folder
from arenakit.annotate.__main__ import main
from tiny_backbones import build_tiny_decoder

ROWS = [("Tell me about rain.", "Rain is water falling from clouds.", "Rain falls.")]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return build_tiny_decoder(tmp_path_factory.mktemp("judge") / "llama", "llama")


@pytest.mark.parametrize("quantize", [None, "8bit"])
def test_a_random_decoder_is_honestly_unparsable(tmp_path, capsys, quantize, tiny_llama):
    if quantize:
        pytest.importorskip("bitsandbytes")
    folder = write_folder(tmp_path / "data", ROWS, ROWS)
    model = tiny_llama
    out = tmp_path / "annotations.jsonl"
    argv = ["--data-dir", str(folder), "--out", str(out), "--local", str(model), "--max-tokens", "12"]
    argv += ["--max-conversation-tokens", "64", "--limit", "2", "--no-progress"]
    assert main(argv + (["--quantize", quantize] if quantize else [])) == 0
    output = capsys.readouterr().out
    records = read_records(out)
    assert [r["outcome"] for r in records] == ["unparsable", "unparsable"]
    for record in records:
        assert record["judge"] == "local:llama" and record["tries"] == 2 and record["error"] is None
        assert "--- after the repair request ---" in record["raw"] and len(record["raw"]) > 30
        assert all(value is None for value in record["ratings"].values())
        # Usage is counted from the ids: the prompt (few-shot included) and at most 12 new tokens per request.
        assert record["usage"]["prompt_tokens"] > 1000 and 2 <= record["usage"]["completion_tokens"] <= 24
    # train.csv and test.csv hold the same row: 4 sides, 2 distinct responses.
    assert "2 distinct responses: 0 done before, 2 rated now (ok 0, unparsable 2, refused 0, failed 0)" in output


# A chat template without a system role, as Gemma's: it raises on one.
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_the_chat_template_formats_the_messages_and_a_system_role_it_refuses_is_folded(tiny_llama):
    from arenakit.annotate.local_judge import LocalJudge

    judge = LocalJudge(tiny_llama, max_tokens=4)
    judge.tokenizer.chat_template = NO_SYSTEM_TEMPLATE
    messages = [{"role": "system", "content": "Rate it."}, {"role": "user", "content": "Rain falls."}]
    text = judge.tokenizer.decode(judge._input_ids(messages))
    assert text == "<|user|>Rate it.\n\nRain falls.<|assistant|>"
    reply = judge.complete(messages)
    assert reply.prompt_tokens == len(judge._input_ids(messages)) and 1 <= reply.completion_tokens <= 4
