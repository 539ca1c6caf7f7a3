"""kill -9 in the middle of an annotation run: the rerun loses at most the requests in flight and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from annotate_helpers import read_records, stub_properties, write_folder
from arenakit.annotate.__main__ import main
from conftest import REPO_ROOT
from judge_stub import JudgeStub

N_ROWS = 30  # 60 distinct responses
CONCURRENCY = 4


def _command(folder, out, base_url) -> list[str]:
    return [
        sys.executable, "-m", "arenakit.annotate", "--data-dir", str(folder), "--splits", "train", "--out", str(out),
        "--base-url", base_url, "--model", "stub-judge", "--api-key-env", "ARENAKIT_TEST_JUDGE_KEY",
        "--concurrency", str(CONCURRENCY), "--no-progress",
    ]  # fmt: skip


def test_kill_9_then_resume(tmp_path, monkeypatch, capsys):
    rows = [(f"Question {k}?", f"CASE:slow answer {k} a", f"CASE:slow answer {k} b") for k in range(N_ROWS)]
    folder = write_folder(tmp_path / "data", rows, rows[:1])
    out = tmp_path / "annotations.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "lib"), os.environ.get("PYTHONPATH")])),
    }
    env["ARENAKIT_TEST_JUDGE_KEY"] = "sk-kill-test"
    with JudgeStub(stub_properties(), key="sk-kill-test", slow_seconds=0.15) as stub:
        process = subprocess.Popen(_command(folder, out, stub.base_url), env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 10:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # Requests the killed process sent may still sit in the stub's socket buffers: let them arrive.
        time.sleep(0.5)
        sent_before_kill = len(stub.requests)
        kept = read_records(out)
        assert 10 <= len(kept) < 2 * N_ROWS, "the run must be killed in the middle"
        # Lost: only what was in flight (the pool's workers), never a written record.
        assert sent_before_kill - len(kept) <= CONCURRENCY
        # A write torn by a kill (simulated: the record's first half, no newline) is cut off on resume.
        torn = b'{"key": "0123abcd", "outcome": "o'
        with open(out, "ab") as file:
            file.write(torn)

        # The rerun in this process (a second interpreter start would only cost time).
        monkeypatch.setenv("ARENAKIT_TEST_JUDGE_KEY", "sk-kill-test")
        code = main(_command(folder, out, stub.base_url)[3:])
        output = capsys.readouterr().out
        assert code == 0, output
        assert f"cut off a torn last line ({len(torn)} bytes" in output
        assert f"{len(kept)} done before, {2 * N_ROWS - len(kept)} rated now (ok {2 * N_ROWS - len(kept)}," in output
        records = read_records(out)
        # Every response once: the records written before the kill unchanged, the rest asked once each.
        assert len(records) == 2 * N_ROWS and len({r["key"] for r in records}) == 2 * N_ROWS
        assert records[: len(kept)] == kept
        assert len(stub.requests) - sent_before_kill == 2 * N_ROWS - len(kept)
        assert {r["outcome"] for r in records} == {"ok"}
