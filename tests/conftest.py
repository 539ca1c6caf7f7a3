"""Shared fixtures: the real sample rows (skipped when absent) and synthetic competition folders."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE_DIR = REPO_ROOT.parent / "shared" / "data" / "arena-sample"


@pytest.fixture(scope="session")
def real_sample_dir() -> Path:
    """The 999 real training rows and the real 3-row test files, beside the project."""
    if not (REAL_SAMPLE_DIR / "train.csv").is_file():
        pytest.skip(f"real sample rows not present at {REAL_SAMPLE_DIR}")
    return REAL_SAMPLE_DIR


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A small synthetic competition folder, made once per test session."""
    from arenakit.data.synthetic import write_sample

    return write_sample(tmp_path_factory.mktemp("synthetic"), n_train=600, n_test=60, seed=7)


@pytest.fixture(autouse=True, scope="session")
def isolated_embedding_cache(tmp_path_factory):
    """Embeddings computed by tests go to a temp folder, shared by the session, never ~/.cache."""
    import os

    os.environ["ARENAKIT_CACHE"] = str(tmp_path_factory.mktemp("arenakit-cache"))
    yield


@pytest.fixture(scope="session")
def tiny_deberta_dir(tmp_path_factory) -> Path:
    """A random 2-layer DebertaV2 with a SentencePiece tokenizer trained on synthetic text (built in seconds)."""
    from tiny_backbones import build_tiny_deberta

    return build_tiny_deberta(tmp_path_factory.mktemp("tiny-deberta"))


@pytest.fixture(scope="session")
def tiny_decoder_dir(tmp_path_factory):
    """A factory: the folder of a random 2-block decoder of this model_type ("llama", "gemma2", "qwen2"), built once."""
    from tiny_backbones import build_tiny_decoder

    built: dict[str, Path] = {}

    def folder(model_type: str) -> Path:
        if model_type not in built:
            built[model_type] = build_tiny_decoder(tmp_path_factory.mktemp(f"tiny-{model_type}"), model_type)
        return built[model_type]

    return folder
