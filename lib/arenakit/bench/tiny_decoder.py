"""Tiny random decoders built from config, with a byte-level BPE tokenizer trained on given text: no download.

    folder = build_tiny_decoder(tmp / "llama", "llama", texts)               # config + weights + tokenizer
    folder = build_tiny_decoder(tmp / "qwen2", "qwen2", texts, bos=False)    # Qwen-2's tokenizer has no BOS

They run the real architectures' code (Llama, Gemma-2, Qwen-2 and any other config.model_type)
at a size a CPU runs in seconds: for the tests and for the benchmark's CPU figures, which need a
decoder of the right kind, not a good one. The tokenizer is a byte-level BPE like Llama-3's and
Qwen-2's (GPT-2 style), with <bos> (optional), <eos> and <pad> specials and no post-processor,
so it adds no specials of its own (the kit's formatter adds the BOS).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIALS = ("<pad>", "<bos>", "<eos>")


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1000, bos: bool = True):
    """A byte-level BPE tokenizer trained on texts, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>" if bos else None
    )


def tiny_decoder_config(model_type: str, vocab_size: int, **sizes):
    """A small config of this architecture: 2 blocks of width 64 unless sizes say otherwise.

    Every projection's input is a multiple of 64 and its output a multiple of 32: bitsandbytes'
    4-bit layers on a CPU with AVX-512 BF16 repack their weights in blocks of that size for
    inference and fail on narrower layers (a real 7-9B decoder is far wider).
    """
    from transformers import AutoConfig

    settings = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        num_labels=3,
        pad_token_id=SPECIALS.index("<pad>"),
        bos_token_id=SPECIALS.index("<bos>"),
        eos_token_id=SPECIALS.index("<eos>"),
    )
    return AutoConfig.for_model(model_type, **{**settings, **sizes})


def build_tiny_decoder(
    folder: Path,
    model_type: str,
    texts: Iterable[str],
    vocab_size: int = 1000,
    bos: bool = True,
    seed: int = 0,
    **sizes,
) -> Path:
    """Save a random decoder classifier of this architecture and its tokenizer into folder."""
    import torch
    from transformers import AutoModelForSequenceClassification

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(texts, vocab_size, bos)
    torch.manual_seed(seed)
    config = tiny_decoder_config(model_type, len(tokenizer), **sizes)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
