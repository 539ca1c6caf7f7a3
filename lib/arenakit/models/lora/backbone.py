"""Load a backbone as a 3-label sequence classifier and put LoRA adapters on it.

    model = load_classifier(path, tokenizer, quantize="8bit", device="cuda:1", dtype=torch.float16)
    model = add_lora(model, r=16, alpha=32, dropout=0.05, layers_to_transform=range(16, 42))

Target modules are chosen per architecture (config.model_type): the attention projections (and
the feed-forward ones) of the encoder or decoder blocks, never the classification head, which is
trained in full (peft's modules_to_save). Decoder backbones (Llama, Gemma, Qwen, Mistral) get a
pad token when they lack one: their sequence-classification classes pool the last non-pad token.

Precision: the frozen weights load in the given dtype (resolve_dtype: fp16 on a T4, bf16 where
the GPU has it, fp32 on CPU), or quantized by bitsandbytes ("8bit": LLM.int8 with fp16 compute,
"4bit": NF4) on any device, CPU included (bitsandbytes 0.50). The adapters and the head are kept
in fp32 (adapters_in_fp32), as QLoRA trains them. The attention implementation is chosen per
architecture (ATTENTION): Gemma-2's attention logits are soft-capped (tanh(x / 50) * 50), which
PyTorch's fused SDPA kernel cannot do and FlashAttention-2 does only on Ampere or newer, so on a
T4 Gemma-2 runs eager attention (the full score matrix, materialized per layer).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch

from arenakit.core.schema import N_CLASSES
from arenakit.models.lora.settings import QUANTIZE

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
# Attention implementation per config.model_type; others get transformers' default (SDPA where supported).
ATTENTION = {"gemma2": "eager"}
# Written into a backbone folder by python -m arenakit.train properties: what it was pretrained on.
PROPERTIES_MARKER = "arenakit-properties.json"
# The McGill paper froze the first 3 layers of its property-pretrained encoders when fine-tuning them.
PAPER_FROZEN_LAYERS = 3
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def quiet_transformers() -> None:
    """Keep load reports ("classifier.weight MISSING", expected for a new head) out of the notebooks."""
    import warnings

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("peft").setLevel(logging.ERROR)
    # "MatMul8bitLt: inputs will be cast to float16", once per layer and call: expected, not actionable.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
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
            f"Pass target_modules=[...] (leaf names of its Linear layers) in the model settings."
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


def resolve_dtype(dtype: str, device: str, decoder: bool) -> torch.dtype:
    """The dtype the frozen weights load in.

    "auto": for a decoder, fp16 on a CUDA device without bf16 (T4, V100: bf16 is emulated there
    and slow), bf16 where the GPU has it (compute capability 8 and up), fp32 on CPU; for an
    encoder fp32 everywhere (it is small, and fp16 autocast does its CUDA compute as before).
    Otherwise the named dtype ("float32", "float16", "bfloat16").
    """
    if dtype != "auto":
        if dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r}: use 'auto' or one of {', '.join(DTYPES)}")
        return DTYPES[dtype]
    if not decoder or not device.startswith("cuda"):
        return torch.float32
    return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16


def _quantization_config(quantize: str, compute_dtype: torch.dtype):
    from transformers import BitsAndBytesConfig

    if quantize not in QUANTIZE:
        raise ValueError(f"quantize={quantize!r}: use '8bit', '4bit' or None")
    return BitsAndBytesConfig(
        load_in_8bit=quantize == "8bit",
        load_in_4bit=quantize == "4bit",
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_type="nf4",
    )


def loading_options(path: Path | str, quantize: str | None, device: str, dtype: torch.dtype) -> dict:
    """from_pretrained's keyword arguments for a backbone: its dtype, the attention it needs, bitsandbytes weights.

    A quantized model loads straight onto its device (it cannot move afterwards); the classifier
    and the annotate command's local judge load through these alike.
    """
    from transformers import AutoConfig

    options = {"dtype": dtype}
    attention = ATTENTION.get(AutoConfig.from_pretrained(str(path)).model_type)
    if attention:
        options["attn_implementation"] = attention
    if quantize:
        options["quantization_config"] = _quantization_config(quantize, dtype)
        options["device_map"] = {"": device}
    return options


def load_classifier(
    path: Path | str, tokenizer, quantize: str | None = None, device: str = "cpu", dtype: torch.dtype = torch.float32
):
    """The backbone with a fresh 3-label head, in dtype; quantize "8bit"/"4bit" loads it through bitsandbytes.

    A quantized model is loaded onto its device (it cannot move afterwards); one that is not
    loads on the CPU and is placed later. The KV cache is off: a classifier reads each row once.
    """
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=N_CLASSES, **loading_options(path, quantize, device, dtype)
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = False
    return model


def prepare_for_training(model, gradient_checkpointing: bool):
    """Freeze the backbone; with gradient_checkpointing, recompute each block's activations in the backward pass.

    The non-reentrant checkpointing needs no inputs that require grad, so a frozen (or quantized)
    base trains its adapters without peft's prepare_model_for_kbit_training, which would also cast
    every non-quantized weight to fp32 (Gemma-2-9B's 0.9B-parameter embedding: 3.7 GB).
    """
    model.requires_grad_(False)
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def _layer_index(name: str) -> int | None:
    """The block number in a module name ("model.layers.12.self_attn.q_proj" -> 12), None outside the blocks."""
    for part in name.split("."):
        if part.isdigit():
            return int(part)
    return None


def frozen_layer_count(freeze_layers: int | None, backbone_path: Path | str) -> int:
    """freeze_layers, or its default for this backbone folder: 3 when it was pretrained on properties, else 0.

    A general backbone keeps 0, the setting the kit's profiles were measured with: its lower layers
    gain from adapting to the task like the others. A properties-pretrained one learnt the judge's
    properties in them, which fine-tuning on preference labels alone would wear away.
    """
    if freeze_layers is not None:
        return int(freeze_layers)
    return PAPER_FROZEN_LAYERS if (Path(backbone_path) / PROPERTIES_MARKER).is_file() else 0


def trained_layers(layers_to_transform, frozen: int, n_layers: int):
    """The blocks that get adapters: layers_to_transform (None: every block) from block `frozen` on; None: every block."""
    if not frozen:
        return layers_to_transform
    chosen = list(range(n_layers)) if layers_to_transform is None else list(layers_to_transform)
    kept = [int(index) for index in chosen if int(index) >= frozen]
    if not kept:
        raise ValueError(
            f"freeze_layers={frozen} freezes every block that would be trained (blocks {sorted(chosen)} of "
            f"0-{n_layers - 1}); use a smaller freeze_layers"
        )
    return kept


def freeze_lower_layers(model, frozen: int) -> None:
    """Stop training the embeddings and the first `frozen` blocks of a model trained in full."""
    if not frozen:
        return
    n_layers = model.config.num_hidden_layers
    if frozen >= n_layers:
        raise ValueError(f"freeze_layers={frozen} freezes all {n_layers} blocks; use at most {n_layers - 1}")
    for name, param in model.named_parameters():
        index = _layer_index(name)
        if "embeddings" in name or (index is not None and index < frozen):
            param.requires_grad_(False)


def add_lora(model, r: int, alpha: int, dropout: float, leaf_names=None, layers_to_transform=None):
    """Wrap the classifier with LoRA adapters on its target modules (in the chosen blocks); the head is trained in full."""
    from peft import LoraConfig, get_peft_model

    targets = linear_layers(model, leaf_names) if leaf_names else target_modules(model)
    if layers_to_transform is not None:
        chosen = {int(index) for index in layers_to_transform}
        targets = [name for name in targets if _layer_index(name) in chosen]
        if not targets:
            raise ValueError(
                f"layers_to_transform={sorted(chosen)} selects none of the target layers; "
                f"the blocks are numbered from 0 to {model.config.num_hidden_layers - 1}"
            )
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        modules_to_save=head_modules(model),
        bias="none",
    )
    return adapters_in_fp32(get_peft_model(model, config))


def _cast_inputs_to_weights(module, args):
    # A head wrapped by peft holds its original and its trained copy (modules_to_save): the copy counts.
    dtype = next(getattr(module, "modules_to_save", module).parameters()).dtype
    return tuple(arg.to(dtype) if torch.is_tensor(arg) and arg.is_floating_point() else arg for arg in args)


def adapters_in_fp32(peft_model):
    """Keep the adapters and the head in fp32 over a half-precision or quantized base.

    Their optimizer updates are too small for fp16 and the gradient scaler refuses fp16 gradients.
    peft casts what enters and leaves an adapter; the head gets its input cast by a hook (under
    CUDA autocast the cast is a no-op: autocast picks the matmul dtype).
    """
    for name, param in peft_model.named_parameters():
        if ("lora_" in name or "modules_to_save" in name) and param.dtype != torch.float32:
            param.data = param.data.float()
    base = peft_model.get_base_model()
    for name in head_modules(base):
        head = getattr(base, name)
        if not getattr(head, "_arenakit_casts_inputs", False):
            head.register_forward_pre_hook(_cast_inputs_to_weights)
            head._arenakit_casts_inputs = True
    return peft_model


def adapter_state(peft_model) -> tuple:
    """(config, weights) of the adapters and the head, to put the same adapters on another copy of the base."""
    from peft import get_peft_model_state_dict

    state = {key: value.detach().to("cpu", copy=True) for key, value in get_peft_model_state_dict(peft_model).items()}
    return copy.deepcopy(peft_model.peft_config["default"]), state


def attach_adapters(base_model, config, state: dict):
    """The base with these adapters and head (unmerged), for inference on the base's device."""
    from peft import get_peft_model, set_peft_model_state_dict

    peft_model = get_peft_model(base_model, copy.deepcopy(config))
    result = set_peft_model_state_dict(peft_model, state)
    if result.unexpected_keys:
        raise ValueError(f"adapter weights that fit no layer of the base: {', '.join(result.unexpected_keys[:5])}")
    return adapters_in_fp32(peft_model).eval()


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

    return adapters_in_fp32(PeftModel.from_pretrained(base_model, str(adapter_dir), is_trainable=False))
