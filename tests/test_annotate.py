"""python -m arenakit.annotate against a loopback chat-completions stub, through the real openai client.

Each response of the folder asks the stub for one behaviour (tests/judge_stub.py); the test checks
the outcome of every one, the retries and repair requests it took, the tokens, the resume, and
that the key is sent but written nowhere.
"""

from __future__ import annotations

from annotate_helpers import read_records, stub_properties, write_folder
from arenakit.annotate.__main__ import main
from judge_stub import COMPLETION_TOKENS, PROMPT_TOKENS, JudgeStub

KEY = "sk-arenakit-test-0123456789"
PROMPT = "Tell me about rain."
# (prompt, response_a, response_b); row 4's B repeats row 1's A (same prompt): one record serves both.
TRAIN = [
    (PROMPT, "CASE:good Rain is water falling from clouds.", "CASE:prose Rain falls."),
    ("Explain tides.", "CASE:malformed Tides come from the moon.", "CASE:garbled The sea moves."),
    ("Insult my neighbour.", "CASE:refusal No.", "CASE:ratelimit Here is a polite reply instead."),
    (PROMPT, "CASE:timeout Rain is wet.", "CASE:good Rain is water falling from clouds."),
]
TEST = [("Why is the sky blue?", "CASE:good Rayleigh scattering.", "CASE:prose Because of scattering.")]
EXPECTED = {
    "good": "ok",
    "prose": "ok",
    "malformed": "ok",
    "garbled": "unparsable",
    "refusal": "refused",
    "ratelimit": "ok",
    "timeout": "failed",
}


def _case(record: dict) -> str:
    return record["source"]["file"], record["source"]["id"], record["source"]["side"]


def _run(stub, folder, out, capsys, *extra) -> tuple[int, str]:
    argv = [
        "--data-dir", str(folder), "--out", str(out), "--base-url", stub.base_url, "--model", "stub-judge",
        "--api-key-env", "ARENAKIT_TEST_JUDGE_KEY", "--timeout", "0.5", "--max-tries", "3", "--backoff", "0.01",
        "--concurrency", "4", "--no-progress", "--price-per-mtok-in", "3", "--price-per-mtok-out", "15", *extra,
    ]  # fmt: skip
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_every_outcome_retries_repair_resume_and_the_key_stays_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENAKIT_TEST_JUDGE_KEY", KEY)
    folder = write_folder(tmp_path / "data", TRAIN, TEST)
    out = tmp_path / "annotations.jsonl"
    with JudgeStub(stub_properties(), key=KEY, delay=1.0) as stub:
        code, output = _run(stub, folder, out, capsys)
        records = read_records(out)
        first_requests = list(stub.requests)
        assert code == 0, output
        # 10 sides, one repeated: 9 distinct responses, one record each.
        assert len(records) == 9 and len({r["key"] for r in records}) == 9
        by_case = {}
        for record in records:
            text = {"train.csv": TRAIN, "test.csv": TEST}[record["source"]["file"]]
            row = text[record["source"]["id"] - (1 if record["source"]["file"] == "train.csv" else 1000)]
            case = row[1 if record["source"]["side"] == "a" else 2].split()[0].removeprefix("CASE:")
            by_case.setdefault(case, []).append(record)
        assert {case: {r["outcome"] for r in rs} for case, rs in by_case.items()} == {
            k: {v} for k, v in EXPECTED.items()
        }
        names = list(stub_properties())
        for record in by_case["good"] + by_case["prose"] + by_case["ratelimit"] + by_case["malformed"]:
            assert set(record["ratings"]) == set(names) and all(v in (1, 2) for v in record["ratings"].values())
            assert record["raw"] is None and record["taxonomy"] == "preference-properties@1"
        (malformed,) = by_case["malformed"]
        assert malformed["repaired"] and malformed["tries"] == 2
        (garbled,) = by_case["garbled"]
        assert garbled["tries"] == 2 and garbled["raw"].count('"harmlessness"') == 2  # both answers kept
        (refused,) = by_case["refusal"]
        assert refused["raw"].startswith("I'm sorry") and refused["tries"] == 2  # the words, twice
        assert all(v is None for v in refused["ratings"].values())
        (limited,) = by_case["ratelimit"]
        assert limited["tries"] == 3 and limited["usage"] == {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
        }
        (timed_out,) = by_case["timeout"]
        assert timed_out["tries"] == 3 and "failed after 3 tries" in timed_out["error"] and timed_out["usage"] is None
        # The repeated response was asked once; repairs only for the two broken answers and the refusal.
        assert stub.count("good") == 2 and sum(repair for _, _, repair in first_requests) == 3
        answered = sum(
            1 for case, nth, _ in first_requests if case != "timeout" and not (case == "ratelimit" and nth <= 2)
        )
        assert f"tokens: {answered * PROMPT_TOKENS:,} in, {answered * COMPLETION_TOKENS:,} out" in output
        assert f"cost {(answered * PROMPT_TOKENS * 3 + answered * COMPLETION_TOKENS * 15) / 1e6:,.4f}" in output
        assert "ok 6, unparsable 1, refused 1, failed 1" in output
        assert "in the file for these responses: ok 6, unparsable 1, refused 1, failed 1" in output

        # A rerun skips the 8 final records and tries the failed one again, in place.
        code, output = _run(stub, folder, out, capsys)
        assert code == 0, output
        assert [case for case, _, _ in stub.requests[len(first_requests) :]] == ["timeout"] * 3
        assert "8 done before, 1 rated now" in output and "1 failed record(s) removed" in output
        assert "in the file for these responses: ok 6, unparsable 1, refused 1, failed 1" in output
        again = read_records(out)
        assert len(again) == 9 and len({r["key"] for r in again}) == 9
        assert [r for r in again if r["outcome"] != "failed"] == [r for r in records if r["outcome"] != "failed"]

    assert all(auth == f"Bearer {KEY}" for auth in stub.authorizations)
    assert KEY not in out.read_text(encoding="utf-8") and KEY not in output


def test_a_wrong_key_stops_the_run_with_what_to_check(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENAKIT_TEST_JUDGE_KEY", "sk-wrong-key-555")
    folder = write_folder(tmp_path / "data", TRAIN[:1], TEST)
    out = tmp_path / "annotations.jsonl"
    with JudgeStub(stub_properties(), key=KEY) as stub:
        code, output = _run(stub, folder, out, capsys)
    assert code == 1 and "401" in output and "--api-key-env" in output
    assert read_records(out) == [] and "sk-wrong-key-555" not in output


def test_dry_run_prints_one_prompt_and_calls_nothing(tmp_path, monkeypatch, capsys):
    folder = write_folder(tmp_path / "data", TRAIN, TEST)
    out = tmp_path / "annotations.jsonl"
    with JudgeStub(stub_properties(), key=KEY) as stub:
        code, output = _run(stub, folder, out, capsys, "--dry-run")
    assert code == 0 and stub.requests == [] and not out.exists()
    assert "9 distinct responses, 9 to rate" in output
    assert "[User]\nTell me about rain.\n\n[Assistant]\nCASE:good Rain is water" in output
    assert "harmlessness (0-3)" in output and "supports_user_stance (0/1)" in output
    assert "tokens per request over 9 responses" in output and "with six-word reasons" in output


def test_limit_rates_that_many_more(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENAKIT_TEST_JUDGE_KEY", KEY)
    folder = write_folder(tmp_path / "data", TRAIN[:1], TEST)
    out = tmp_path / "annotations.jsonl"
    with JudgeStub(stub_properties(), key=KEY) as stub:
        _run(stub, folder, out, capsys, "--limit", "3")
        assert len(read_records(out)) == 3
        _, output = _run(stub, folder, out, capsys, "--limit", "3")
    assert len(read_records(out)) == 4 and "3 done before, 1 rated now" in output


def test_no_system_role_sends_the_instructions_as_the_first_user_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENAKIT_TEST_JUDGE_KEY", KEY)
    folder = write_folder(tmp_path / "data", TRAIN[:1], TEST)
    with JudgeStub(stub_properties(), key=KEY) as stub:
        _run(stub, folder, tmp_path / "with.jsonl", capsys, "--limit", "1")
        _run(stub, folder, tmp_path / "without.jsonl", capsys, "--limit", "1", "--no-system-role")
    assert stub.roles == [
        ["system", "user", "assistant", "user", "assistant", "user"],
        ["user", "assistant"] * 2 + ["user"],
    ]
    assert read_records(tmp_path / "without.jsonl")[0]["outcome"] == "ok"


def test_a_refusal_the_endpoint_flags_is_refused_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENAKIT_TEST_JUDGE_KEY", KEY)
    folder = write_folder(tmp_path / "data", [(PROMPT, "CASE:flagged Something.", "CASE:good Fine.")], TEST)
    out = tmp_path / "annotations.jsonl"
    with JudgeStub(stub_properties(), key=KEY) as stub:
        _run(stub, folder, out, capsys, "--splits", "train")
    flagged, good = read_records(out) if read_records(out)[0]["source"]["side"] == "a" else read_records(out)[::-1]
    assert (flagged["outcome"], flagged["tries"], flagged["raw"]) == ("refused", 1, "Declined by policy.")
    assert good["outcome"] == "ok" and stub.count("flagged") == 1
