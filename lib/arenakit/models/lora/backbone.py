"""Load a backbone as a 3-label sequence classifier and put LoRA adapters on it.

Target modules are chosen per architecture (config.model_type): the attention projections (and
the feed-forward ones) of the encoder or decoder blocks, never the classification head, which is
trained in full (peft's modules_to_save). Decoder backbones (Llama, Gemma, Qwen, Mistral) get a
pad token when they lack one: their sequence-classification classes pool the last non-pad token.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from arenakit.schema import N_CLASSES

# Leaf names of the Linear layers that get adapters, per config.model_type.
_DECODER_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TARGET_MODULES = {
    "deberta-v2": ("query_proj", "key_proj", "value_proj", "dense"),
    "deberta": ("in_proj", "dense"),
    "bert": ("query", "key", "value", "dense"),
    "roberta": ("query", "key", "value", "dense"),
    "xlm-roberta": ("query", "key", "value", "dense"),
    "electra": ("query", "key", "value", "dense"),
    "llama": _DECODER_PROJECTIONS,
    "mistral": _DECODER_PROJECTIONS,
    "gemma": _DECODER_PROJECTIONS,
    "gemma2": _DECODER_PROJECTIONS,
    "gemma3_text": _DECODER_PROJECTIONS,
    "qwen2": _DECODER_PROJECTIONS,
    "qwen3": _DECODER_PROJECTIONS,
}
# Top-level modules of the *ForSequenceClassification classes that form the head.
HEAD_MODULES = ("classifier", "score", "pooler")


def quiet_transformers() -> None:
    """Keep load reports ("classifier.weight MISSING", expected for a new head) out of the notebooks."""
    import warnings

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("peft").setLevel(logging.ERROR)
    # Deprecation notices between transformers and peft releases say nothing a kit user can act on.
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def load_tokenizer(path: Path | str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            f"{path}: the kit needs a fast tokenizer (offsets for truncation); this one is {type(tokenizer).__name__}"
        )
    if tokenizer.pad_token is None:
        # Decoders ship without one; padding is masked out, so any existing token serves.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    ensure_specials(tokenizer)
    return tokenizer


def ensure_specials(tokenizer) -> None:
    """Make an encoder tokenizer wrap inputs in [CLS] ... [SEP].

    transformers 5.0.0 (the Kaggle image's) builds DeBERTa-v3's fast tokenizer from spm.model
    without that post-processor, so the model would read text without the specials it was
    pretrained with; newer releases add it. Decoders (no CLS token) are left as they are.
    """
    cls, sep = tokenizer.cls_token, tokenizer.sep_token
    if cls is None or sep is None:
        return
    ids = tokenizer("a")["input_ids"]
    if ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id:
        return
    from tokenizers.processors import TemplateProcessing

    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B {sep}",
        special_tokens=[(cls, tokenizer.cls_token_id), (sep, tokenizer.sep_token_id)],
    )


def head_modules(model) -> list[str]:
    return [name for name in HEAD_MODULES if isinstance(getattr(model, name, None), torch.nn.Module)]


def target_modules(model) -> list[str]:
    """Full names of the Linear layers that get adapters (head excluded); a clear error for unknown architectures."""
    model_type = model.config.model_type
    if model_type not in TARGET_MODULES:
        raise ValueError(
            f"no LoRA target modules known for model_type {model_type!r}; known: {', '.join(sorted(TARGET_MODULES))}. "
            f"Pass target_modules=[...] (leaf names of its Linear layers) to LoRAClassifierModel."
        )
    return linear_layers(model, TARGET_MODULES[model_type])


def linear_layers(model, leaf_names) -> list[str]:
    """Full names of the Linear (or GPT-2 style Conv1D) layers with these leaf names, outside the head."""
    from transformers.pytorch_utils import Conv1D

    heads = tuple(f"{name}." for name in head_modules(model))
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, (torch.nn.Linear, Conv1D))
        and name.rsplit(".", 1)[-1] in leaf_names
        and not name.startswith(heads)
    ]
    if not names:
        raise ValueError(f"{model.config.model_type}: no Linear layer named {', '.join(leaf_names)} outside the head")
    return names


def load_classifier(path: Path | str, tokenizer, quantize: str | None = None, device: str = "cpu"):
    """The backbone with a fresh 3-label head; quantize "4bit"/"8bit" loads it through bitsandbytes (CUDA only)."""
    from transformers import AutoModelForSequenceClassification

    kwargs = {"num_labels": N_CLASSES}
    if quantize:
        if quantize not in ("4bit", "8bit") or not device.startswith("cuda"):
            raise ValueError(
                f"quantize={quantize!r}: use '4bit' or '8bit', and only on a CUDA device (device={device!r})"
            )
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=quantize == "4bit",
            load_in_8bit=quantize == "8bit",
            bnb_4bit_compute_dtype=torch.float16,
            bnb_4bit_quant_type="nf4",
        )
        kwargs["device_map"] = {"": device}
    model = AutoModelForSequenceClassification.from_pretrained(str(path), **kwargs)
    model.config.pad_token_id = tokenizer.pad_token_id
    if quantize:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    return model


def add_lora(model, r: int, alpha: int, dropout: float, leaf_names=None):
    """Wrap the classifier with LoRA adapters on its target modules; the head is trained in full."""
    from peft import LoraConfig, get_peft_model

    targets = linear_layers(model, leaf_names) if leaf_names else target_modules(model)
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        modules_to_save=head_modules(model),
        bias="none",
    )
    return get_peft_model(model, config)


def is_quantized(model) -> bool:
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False))


def place_on(model, device: str):
    """Move the model to device, except a bitsandbytes-quantized one: it was placed at load and cannot move."""
    if is_quantized(model):
        return model
    return model.to(device)


def load_adapters(base_model, adapter_dir: Path | str):
    """The classifier with saved adapters and head, for inference."""
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model, str(adapter_dir), is_trainable=False)
