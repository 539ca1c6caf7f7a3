"""Planted-signal data: rows whose label a model can only get from the texts, and a tiny decoder that reads them.

    folder = write_planted_competition(tmp_path / "data", n_train=240, n_test=24, seed=0)
    train = load_competition(folder).train              # parsed like any competition folder
    backbone = build_planted_decoder(tmp_path / "llama")  # a random 2-layer Llama with a word-level tokenizer

The winning response carries a marker word; in a tie both responses carry it or neither does.
Everything else (prompt, filler words, lengths) is drawn independently of the label, so a model
that learns reaches a log loss near 0, and one that learns nothing stays at ln 3 = 1.0986. A
broken label or swap mapping shows: with the swapped rows' labels left unswapped, A and B cannot
be told apart and the log loss stays high.

Shared by every architecture's learning test (the cross-encoder LoRA, the Siamese model, the random decoder).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.schema import CLASS_COLUMNS

MARKER = "zebra"
# Common English words: whole tokens in WordPiece vocabularies (MiniLM) and the decoder's word-level one.
FILLER = (
    "the a and of to in is it that for on with as was by this be are or from at an not but have all can "
    "one more time new some when would like their other into than about only also after first well way "
    "even most make over such good very just where years much before right back through people long "
    "little great world life house water school day thing small place number part report city"
).split()
TOPICS = "weather music garden travel cooking history science football painting coffee".split()


def _response(rng: np.random.Generator, marked: bool, marker_at: str) -> str:
    words = list(rng.choice(FILLER, size=int(rng.integers(5, 11))))
    if marked:
        words.insert(len(words) if marker_at == "end" else int(rng.integers(0, len(words) + 1)), MARKER)
    return " ".join(words)


def planted_rows(n_rows: int, seed: int = 0, first_id: int = 1000, marker_at: str = "anywhere") -> pd.DataFrame:
    """n_rows train rows in the competition's raw format (JSON-list text cells, winner columns), classes balanced.

    marker_at: "anywhere" in the winning response, or at its "end". A random decoder (frozen
    random weights, only LoRA and the head trained) finds a marker anywhere only after it has
    memorised the rows: it learns the rule when the marker ends the response, next to a separator.
    """
    if marker_at not in ("anywhere", "end"):
        raise ValueError(f"marker_at={marker_at!r}: 'anywhere' or 'end'")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_rows) % len(CLASS_COLUMNS))
    rows = []
    for row, label in enumerate(labels):
        tie_marked = bool(rng.integers(0, 2))  # a tie: both marked or neither
        marked_a, marked_b = (label == 0 or (label == 2 and tie_marked)), (label == 1 or (label == 2 and tie_marked))
        prompt = f"tell me about {rng.choice(TOPICS)} and {' '.join(rng.choice(FILLER, size=3))}"
        rows.append(
            {
                "id": first_id + row,
                "model_a": "model-x",
                "model_b": "model-y",
                "prompt": json.dumps([prompt]),
                "response_a": json.dumps([_response(rng, marked_a, marker_at)]),
                "response_b": json.dumps([_response(rng, marked_b, marker_at)]),
                **{column: int(label == k) for k, column in enumerate(CLASS_COLUMNS)},
            }
        )
    return pd.DataFrame(rows)


def write_planted_competition(
    folder: Path, n_train: int, n_test: int, seed: int = 0, marker_at: str = "anywhere"
) -> Path:
    """A competition folder (train.csv, test.csv, sample_submission.csv) of planted rows."""
    folder.mkdir(parents=True, exist_ok=True)
    train = planted_rows(n_train, seed, marker_at=marker_at)
    test = planted_rows(n_test, seed + 1, first_id=first_test_id(n_train), marker_at=marker_at)
    train.to_csv(folder / "train.csv", index=False)
    test[["id", "prompt", "response_a", "response_b"]].to_csv(folder / "test.csv", index=False)
    sample = pd.DataFrame({"id": test["id"], **{column: 1 / 3 for column in CLASS_COLUMNS}})
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def first_test_id(n_train: int) -> int:
    return 1000 + n_train + 1000


def build_planted_decoder(folder: Path, hidden_size: int = 32, layers: int = 2, seed: int = 0, **config) -> Path:
    """A random Llama sequence classifier with a word-level tokenizer over the planted vocabulary, saved to folder.

    Nothing is pretrained: whatever it predicts beyond chance, LoRA and the head learned in training.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[EOS]"]
    words = sorted({*FILLER, *TOPICS, MARKER, "tell", "me"})
    vocab = {token: index for index, token in enumerate(specials + words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]"
    )
    tokenizer.save_pretrained(str(folder))
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=vocab["[PAD]"],
        eos_token_id=vocab["[EOS]"],
        bos_token_id=None,
        num_labels=len(CLASS_COLUMNS),
        **config,
    )
    torch.manual_seed(seed)
    LlamaForSequenceClassification(config).save_pretrained(str(folder))
    return folder
