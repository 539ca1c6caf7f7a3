"""Finding the data (explicit, Kaggle mount, synthetic default) and the benchmark command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from arenakit.core.paths import COMPETITION_FILES, KAGGLE_INPUT_ENV, find_input_dir
from arenakit.data import resolve_data_dir
from arenakit.inputs.embedder import cpu_has_native_bf16


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
        sys.executable, "-m", "arenakit.bench", "--rows", "500", "--embedder-rows", "12", "--lora-max-length", "64",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    figures = {row["stage"]: row for row in map(json.loads, re.findall(r"^\{.*\}$", completed.stdout, re.M))}
    assert set(figures) == {"data", "features", "embedder", "lora", "siamese"}
    readable = {line.split(":")[0] for line in completed.stdout.splitlines() if not line.startswith("{")}
    assert set(figures) <= readable  # each stage also has its line for the reader
    data, features, embedder, lora = (figures[name] for name in ("data", "features", "embedder", "lora"))
    assert data["rows"] == 503 and data["rows_per_s"] > 100 and 0 < data["total_s"] < 120
    assert 50 < data["peak_rss_mb"] < 4000
    assert features["rows"] == 500 and features["columns"] > 50 and features["rows_per_s"] > 100
    assert embedder["rows"] == 12 and embedder["texts"] == 24 and embedder["cache_speedup"] > 1
    default = "bf16" if cpu_has_native_bf16() else "fp32"
    assert embedder["cuda"] == 0 and embedder["default_precision_name"] == default  # CPU: bf16 / int8 beside fp32
    for precision in ("fp32", "int8", *(("bf16",) if default == "bf16" else ())):
        assert embedder[f"kit_{precision}_vs_plain_speedup"] > 0.2 and embedder[f"kit_{precision}_texts_per_s"] > 1
    assert embedder["kit_vs_plain_speedup"] == embedder[f"kit_{default}_vs_plain_speedup"]  # the default path's
    assert embedder["max_abs_diff"] < 1e-3  # the kit's fp32 embeds what plain encode embeds
    assert 0.8 < embedder["int8_min_cosine"] <= embedder["int8_mean_cosine"] < 1  # int8: close, not equal
    if default == "bf16":
        assert 0.999 < embedder["bf16_min_cosine"] <= embedder["bf16_mean_cosine"] < 1
    assert lora["rows"] == 12 and lora["max_length"] == 64 and lora["train_tokens_per_s"] > 0
    assert lora["mean_tokens"] <= 64 and lora["dynamic_vs_fixed_speedup"] > 0.2
    assert lora["max_proba_diff"] < 1e-4  # padding changes the cost, not the answer
    siamese = figures["siamese"]
    assert siamese["rows"] == 12 and (siamese["cross_max_length"], siamese["siamese_max_length"]) == (64, 32)
    assert siamese["siamese_train_rows_per_s"] > 0 and siamese["cross_swap_avg_infer_rows_per_s"] > 0
    assert 0.3 < siamese["infer_speedup"] < 10 and siamese["siamese_max_swap_gap"] < 1e-6  # one pass, exactly symmetric
