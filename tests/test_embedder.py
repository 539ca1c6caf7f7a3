"""The embedder: sentence-transformers' vectors, in order, bf16 and int8 close to them, a cache that skips the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenakit.inputs import formatting
from arenakit.inputs.embedder import (
    KINDS,
    SentenceEmbedder,
    cpu_has_native_bf16,
    default_model_path,
    default_precision,
    model_fingerprint,
    text_keys,
)
from arenakit.inputs.formatting import format_sides

# Short sequences keep the tests fast on CPU; the comparison model uses the same length.
MAX_SEQ = 64


@pytest.fixture(scope="module")
def frame(synthetic_dir) -> pd.DataFrame:
    from arenakit.data import load_competition

    rows = load_competition(synthetic_dir, warn=False).train.iloc[:40]
    # Three repeated rows: duplicates must come back in their places, with equal vectors.
    return pd.concat([rows, rows.iloc[:3]], ignore_index=True)


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    model.max_seq_length = MAX_SEQ
    return model


def make(**kwargs) -> SentenceEmbedder:
    """An fp32 embedder unless told otherwise: fp32 vectors equal plain sentence-transformers' ones."""
    kwargs = {"precision": "fp32", "max_seq_length": MAX_SEQ, **kwargs}
    return SentenceEmbedder(device="cpu", show_progress=False, batch_size=16, **kwargs)


def count_forwards(embedder: SentenceEmbedder) -> list:
    """One entry per model call, holding the number of texts in that batch."""
    calls = []
    embedder.model.register_forward_hook(lambda module, args, output: calls.append(len(output["sentence_embedding"])))
    return calls


def test_encode_matches_sentence_transformers_in_order(reference):
    embedder = make()
    texts = ["a", "a much longer text " * 30, "Hello World!", "", "a", "medium length text here " * 4]
    vectors = embedder.encode(texts)
    assert vectors.shape == (6, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, reference.encode(texts), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[4])
    np.testing.assert_allclose(embedder.encode(texts[::-1]), vectors[::-1], atol=1e-6)


def test_embed_sides_matches_formatted_texts(frame, reference, tmp_path):
    embedder = make(cache_dir=tmp_path)
    vectors = embedder.embed_sides(frame)
    assert set(vectors) == set(KINDS)
    for kind in KINDS:
        assert vectors[kind].shape == (len(frame), 384) and vectors[kind].dtype == np.float32
        texts = format_sides(frame, kind, embedder.tokenizer, MAX_SEQ)
        np.testing.assert_allclose(vectors[kind], reference.encode(texts), atol=1e-5)
        np.testing.assert_allclose(vectors[kind][-3:], vectors[kind][:3], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors["a"], axis=1), 1, atol=1e-5)


def test_cache_rerun_skips_the_model(frame, tmp_path):
    embedder = make(cache_dir=tmp_path)
    calls = count_forwards(embedder)
    first = embedder.embed_sides(frame)
    assert calls
    n_calls = len(calls)
    again = embedder.embed_sides(frame)
    assert len(calls) == n_calls
    fresh = make(cache_dir=tmp_path)
    cached = fresh.embed_sides(frame)
    assert fresh._model is None  # a new session's re-run does not even load the model
    for kind in KINDS:
        np.testing.assert_array_equal(again[kind], first[kind])
        np.testing.assert_array_equal(cached[kind], first[kind])
    # New rows cost only themselves; a swapped frame finds its "a" under the original "b".
    swapped = frame.rename(columns={"response_turns_a": "response_turns_b", "response_turns_b": "response_turns_a"})
    swapped_vectors = embedder.embed_sides(swapped)
    assert len(calls) == n_calls
    np.testing.assert_array_equal(swapped_vectors["a"], first["b"])


@pytest.mark.parametrize(("precision", "min_cosine"), [("int8", 0.95), ("bf16", 0.9995)])
def test_low_precision_is_close_to_fp32_and_cached_apart(frame, tmp_path, precision, min_cosine):
    rows = frame.iloc[:12]
    low = SentenceEmbedder(
        device="cpu", precision=precision, max_seq_length=MAX_SEQ, show_progress=False, cache_dir=tmp_path
    )
    assert low.precision == precision
    if precision == "int8":
        assert type(low.model[0].auto_model.encoder.layer[0].intermediate.dense).__module__.startswith("torch.ao")
    exact = make(cache_dir=tmp_path).embed_sides(rows)
    calls = count_forwards(low)
    close = low.embed_sides(rows)
    assert calls, f"{precision} vectors must not be served from the fp32 cache"
    for kind in KINDS:
        cosine = (close[kind] * exact[kind]).sum(axis=1)  # both are unit vectors
        equal = np.allclose(close[kind], exact[kind], atol=1e-6)
        assert cosine.min() > min_cosine and not equal, kind  # close, not equal
    assert len({path.name for path in tmp_path.iterdir() if path.is_dir()}) == 2  # one cache folder each


def test_precision_defaults_and_refusals(monkeypatch):
    import torch

    assert default_precision("cuda:0") == "fp16"
    for native, expected in [(True, "bf16"), (False, "fp32")]:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda native=native: native)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda native=native: native)
        assert cpu_has_native_bf16() is native and default_precision("cpu") == expected
    with pytest.raises(ValueError, match="int8 runs on the CPU only"):
        SentenceEmbedder(device="cuda", precision="int8", max_seq_length=MAX_SEQ)
    with pytest.raises(ValueError, match="precision must be one of fp32, fp16, bf16, int8"):
        SentenceEmbedder(device="cpu", precision="fp8", max_seq_length=MAX_SEQ)


def test_embed_sides_embeds_only_the_kinds_asked_for(frame, tmp_path):
    rows = frame.iloc[:10]
    everything = make().embed_sides(rows)
    embedder = make(cache_dir=tmp_path)
    calls = count_forwards(embedder)
    keys = {kind: set(row_keys) for kind, row_keys in text_keys(rows).items()}
    sides = embedder.embed_sides(rows, kinds=("a", "b"))
    assert set(sides) == {"a", "b"} and sum(calls) == len(keys["a"] | keys["b"])  # nothing embedded alone
    for kind in sides:
        np.testing.assert_allclose(sides[kind], everything[kind], atol=1e-6)
    # The cache keys are the same whatever kinds a call asks for: a later call for all kinds embeds only the rest.
    calls.clear()
    embedder.embed_sides(rows, kinds=KINDS)
    assert sum(calls) == len(keys["prompt"] | keys["response_a"] | keys["response_b"])
    with pytest.raises(ValueError, match="unknown text kind"):
        embedder.embed_sides(rows, kinds=("a", "response"))


@pytest.mark.parametrize("change", ["prompt_share", "formatter_version", "max_seq_length", "precision"])
def test_cache_keyed_by_settings(frame, tmp_path, monkeypatch, change):
    rows = frame.iloc[:5]
    make(cache_dir=tmp_path).embed_sides(rows)
    if change == "max_seq_length":
        embedder = make(cache_dir=tmp_path, max_seq_length=MAX_SEQ // 2)
    else:
        embedder = make(cache_dir=tmp_path, precision="int8" if change == "precision" else "fp32")
    calls = count_forwards(embedder)
    if change == "formatter_version":
        monkeypatch.setattr(formatting, "FORMATTER_VERSION", formatting.FORMATTER_VERSION + 1)
    embedder.embed_sides(rows, prompt_share=0.5 if change == "prompt_share" else 0.3)
    assert calls, f"a different {change} must not hit the cache"


def test_model_fingerprint_follows_content(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden": 384}')
    (folder / "model.safetensors").write_bytes(b"\x00" * 1000)
    before = model_fingerprint(folder)
    (folder / "model.safetensors").write_bytes(b"\x01" * 1000)  # same size, other weights
    changed = model_fingerprint(folder)
    assert changed != before
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    assert model_fingerprint(moved) == changed


def test_interrupted_shards_are_ignored(frame, tmp_path):
    rows = frame.iloc[:4]
    first = make(cache_dir=tmp_path).embed_sides(rows)
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    # What a crash leaves: a vectors file whose keys never landed, and a half-written temp file.
    np.save(folder / "999-1-dead.vectors.npy", np.ones((3, 384), np.float32))
    (folder / ".999-1-dead.keys.npy.abc.tmp").write_bytes(b"partial")
    again = make(cache_dir=tmp_path).embed_sides(rows)
    for kind in KINDS:
        np.testing.assert_array_equal(again[kind], first[kind])
