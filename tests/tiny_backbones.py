"""Tiny random backbones for the LoRA tests: a DeBERTa-v2 with its own SentencePiece model, other encoders, decoders.

The DeBERTa one exercises the real DeBERTa-v3 path (SentencePiece tokenizer, relative attention,
query_proj/key_proj/value_proj targets, pooler + classifier head) in seconds on a CPU. The
decoders (Llama, Gemma-2, Qwen-2: arenakit.bench.tiny_decoder, which the benchmark also uses)
run the real decoder paths (marked-section input, last-token pooling, bitsandbytes layers).
"""

from __future__ import annotations

from pathlib import Path

from arenakit.data.synthetic import generate
from arenakit.data.text import parse_turns


def _corpus(n_rows: int = 300) -> list[str]:
    train, _ = generate(n_rows, 3, seed=11)
    lines = []
    for column in ("prompt", "response_a", "response_b"):
        for cell in train[column]:
            lines.extend(turn for turn in parse_turns(cell).turns if turn)
    return lines


def build_tiny_deberta(folder: Path) -> Path:
    """A random 2-layer DebertaV2 (hidden 32) with a 1,000-piece SentencePiece tokenizer trained on sample text."""
    import io

    import sentencepiece
    from transformers import AutoTokenizer, DebertaV2Config, DebertaV2ForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    model_proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()),
        model_writer=model_proto,
        vocab_size=1000,
        model_type="unigram",
        hard_vocab_limit=False,
        pad_id=0,
        unk_id=3,
        bos_id=1,
        eos_id=2,
        pad_piece="[PAD]",
        bos_piece="[CLS]",
        eos_piece="[SEP]",
        unk_piece="[UNK]",
        user_defined_symbols=["[MASK]"],
        minloglevel=2,
    )
    (folder / "spm.model").write_bytes(model_proto.getvalue())
    config = DebertaV2Config(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=64,
        pos_att_type=["p2c", "c2p"],
        type_vocab_size=0,
        pad_token_id=0,
        num_labels=3,
    )
    DebertaV2ForSequenceClassification(config).save_pretrained(str(folder))
    # transformers builds the fast DeBERTa-v2 tokenizer from spm.model beside a deberta-v2 config;
    # the kit's loader gives it the [CLS] ... [SEP] template where the release leaves it out (5.0.0).
    from arenakit.models.lora.backbone import load_tokenizer

    tokenizer = load_tokenizer(folder)
    tokenizer.save_pretrained(str(folder))
    assert tokenizer.convert_ids_to_tokens(AutoTokenizer.from_pretrained(str(folder))("the")["input_ids"])[0] == "[CLS]"
    return folder


def build_tiny_encoder(folder: Path, model_type: str) -> Path:
    """A random 2-layer encoder classifier of this type ("roberta", "electra", "bert"; hidden 32) with
    the bundled MiniLM's WordPiece tokenizer: the architecture's own layers, names and position rules."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from arenakit.inputs.embedder import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tokenizer),
        hidden_size=32,
        embedding_size=32,  # ELECTRA's; the others ignore it
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,  # RoBERTa's positions start after the pad id
        pad_token_id=tokenizer.pad_token_id,
        num_labels=3,
    )
    AutoModelForSequenceClassification.from_config(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


# Qwen-2's real tokenizer has no BOS token: its tiny copy has none either, so that path is tested.
DECODERS_WITHOUT_BOS = ("qwen2",)


def build_tiny_decoder(folder: Path, model_type: str) -> Path:
    """A random 2-block decoder classifier (width 32) with a 1,000-token byte-level BPE trained on sample text."""
    from arenakit.bench.tiny_decoder import build_tiny_decoder as build

    return build(folder, model_type, _corpus(), vocab_size=1000, bos=model_type not in DECODERS_WITHOUT_BOS)


def tiny_model(backbone, architecture: str = "cross_encoder", **params):
    """A LoRA classifier of the architecture, sized for tests (64 tokens, a few dozen rows, one epoch, no progress
    bars); params (settings by name) override."""
    from arenakit.models.lora.architectures import estimator_for

    settings = dict(
        backbone=str(backbone),
        max_length=64,
        epochs=1,
        batch_size=8,
        learning_rate=1e-3,
        max_train_rows=48,
        progress=False,
        seed=3,
    )
    return estimator_for(architecture).from_settings({**settings, **params})
