"""Finding the data (explicit, Kaggle mount, synthetic default) and the benchmark command."""

from __future__ import annotations

import subprocess
import sys

from arenakit.paths import COMPETITION_FILES, KAGGLE_INPUT_ENV, find_input_dir, resolve_data_dir


def test_competition_found_under_any_kaggle_mount_layout(tmp_path, monkeypatch):
    root = tmp_path / "input"
    (root / "some-dataset").mkdir(parents=True)
    (root / "some-dataset" / "train.csv").write_text("not the competition\n")
    mounted = root / "competitions" / "llm-classification-finetuning"
    mounted.mkdir(parents=True)
    for name in COMPETITION_FILES:
        (mounted / name).write_text("id\n")
    monkeypatch.setenv(KAGGLE_INPUT_ENV, str(root))
    assert find_input_dir(COMPETITION_FILES) == mounted
    assert resolve_data_dir(None, tmp_path / "out") == mounted
    assert resolve_data_dir(tmp_path / "mine", tmp_path / "out") == (tmp_path / "mine").resolve()


def test_synthetic_sample_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv(KAGGLE_INPUT_ENV, str(tmp_path / "no-such-folder"))
    data_dir = resolve_data_dir(None, tmp_path / "out", sample_rows=50)
    assert data_dir == (tmp_path / "out" / "data").resolve()
    assert len((data_dir / "train.csv").read_text().splitlines()) > 50
    before = (data_dir / "train.csv").stat().st_mtime_ns
    assert resolve_data_dir(None, tmp_path / "out", sample_rows=50) == data_dir
    assert (data_dir / "train.csv").stat().st_mtime_ns == before  # made once, then reused


def test_benchmark_prints_its_figures():
    command = [
        sys.executable,
        "-m",
        "arenakit.bench",
        "--rows",
        "500",
        "--embedder-rows",
        "12",
        "--lora-max-length",
        "64",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = {line.split(":")[0]: line for line in completed.stdout.splitlines()}
    assert "rows=503" in lines["data"] and "rows_per_s=" in lines["data"] and "peak_rss_mb=" in lines["data"]
    assert "rows=500" in lines["features"] and "columns=" in lines["features"]
    assert "rows=12" in lines["embedder"] and "kit_vs_plain_speedup=" in lines["embedder"]
    assert "cache_speedup=" in lines["embedder"]
    assert (
        "rows=12" in lines["lora"]
        and "train_tokens_per_s=" in lines["lora"]
        and "dynamic_vs_fixed_speedup=" in lines["lora"]
    )
    max_diff = float(lines["lora"].split("max_proba_diff=")[1].split()[0])
    assert max_diff < 1e-4  # padding changes the cost, not the answer
