"""The Siamese classifier: one shared encoder reads each side, a head symmetric by construction compares them.

    model = new_siamese(path, finetune="lora", lora_r=8, lora_alpha=16, lora_dropout=0.05)
    model(**rows.batch([0, 1])).logits        # (2, 3): A, B, tie (rows: SiameseRows)
    save_siamese(model, folder, folder / "adapter"); load_siamese(folder, folder / "adapter", path, "lora")

Pooling is the mean of the last hidden states over the real tokens (not [CLS]): DeBERTa-v3 and
ELECTRA are pretrained as token discriminators, so their [CLS] carries no sentence-level training
signal, while all-MiniLM-L6-v2 was trained as a sentence encoder *with* mean pooling; the mean also
lets every token of a long response reach the head with one gradient path each.

The head reads a and b (the two sides' vectors) as
    logit_A   = f([a, b, a - b, a * b])
    logit_B   = f([b, a, b - a, a * b])      (the same f)
    logit_tie = g([|a - b|, a * b])
so exchanging A and B exchanges logit_A and logit_B and leaves logit_tie as it is: the model is
symmetric for any weights, before and after training, and needs no swapped pass at inference.
The prompt is read inside each side's sequence; a separate prompt vector would cost a third
encoder pass a row and is left out.

Encoder backbones only (a model type with a masked-LM head: DeBERTa-v2/v3, RoBERTa, ELECTRA,
BERT/MiniLM, ...): a decoder's causal attention makes a mean over tokens that mostly saw no
response, and the kit's decoders are served by the cross-encoder, so they are refused with a
clear error. Saved: the encoder's peft adapters (or, fully fine-tuned, the encoder's weights) and
the head's weights, as safetensors; the architecture comes from the backbone, never from the folder.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from arenakit.core.atomic import write_folder, write_with
from arenakit.core.errors import ArtifactError
from arenakit.models.lora.backbone import (
    add_lora,
    freeze_lower_layers,
    frozen_layer_count,
    load_adapters,
    quiet_transformers,
    trained_layers,
)

HEAD_FILE = "siamese_head.safetensors"
ENCODER_FILE = "encoder.safetensors"  # finetune="full": the whole encoder's weights
HEAD_DROPOUT = 0.1


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of each sequence's hidden states over its real tokens, in float32 (fp16 sums overflow)."""
    mask = attention_mask.unsqueeze(-1).float()
    return (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class SymmetricHead(nn.Module):
    """Three logits from two vectors, exchanged exactly when the vectors are (see the module docstring)."""

    def __init__(self, hidden_size: int, dropout: float = HEAD_DROPOUT):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.side = nn.Sequential(nn.Linear(4 * hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, 1))
        self.tie = nn.Sequential(nn.Linear(2 * hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = self.dropout(a), self.dropout(b)
        diff, product = a - b, a * b  # b - a is -diff exactly, b * a is a * b exactly
        # Two calls of f on same-shaped inputs (not one on both stacked): each side's logit then comes
        # out of the same kernel at the same row position in both orders, so the swap is exact in floats.
        logit_a = self.side(torch.cat([a, b, diff, product], dim=-1))
        logit_b = self.side(torch.cat([b, a, -diff, product], dim=-1))
        logit_tie = self.tie(torch.cat([diff.abs(), product], dim=-1))
        return torch.cat([logit_a, logit_b, logit_tie], dim=-1)


class SiameseNetwork(nn.Module):
    """encoder (a Hugging Face base model, peft-wrapped or not) + mean pooling + SymmetricHead."""

    def __init__(self, encoder: nn.Module, head: SymmetricHead):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids_a, attention_mask_a, input_ids_b, attention_mask_b):
        from transformers.modeling_outputs import SequenceClassifierOutput

        # One encoder call per side, both padded to one width (SiameseRows): the swapped rows give
        # the encoder the very same tensors, in the other call.
        a = self.encode(input_ids_a, attention_mask_a)
        b = self.encode(input_ids_b, attention_mask_b)
        return SequenceClassifierOutput(logits=self.head(a, b))

    def parameter_counts(self) -> tuple[int, int]:
        """(trained, total): the adapters and head (or everything, fully fine-tuned) against the whole model."""
        named = list(self.named_parameters())
        total = sum(p.numel() for _, p in named)
        if not has_adapters(self.encoder):
            return total, total
        return sum(p.numel() for name, p in named if "lora_" in name or name.startswith("head.")), total


def has_adapters(encoder: nn.Module) -> bool:
    """Whether the encoder trains (or was trained with) LoRA adapters rather than in full."""
    return any("lora_" in name for name, _ in encoder.named_parameters())


def load_encoder(path: Path | str, keep_pooler: bool = False) -> nn.Module:
    """The backbone's base model (no task head), refused with what to do when it is not an encoder.

    keep_pooler: keep a BERT-style [CLS] pooler, as the property pretraining does so that the
    backbone folder it saves still holds it for a sequence classifier.
    """
    from transformers import AutoConfig, AutoModel
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    quiet_transformers()  # the head-less load lists the checkpoint's unused head weights: expected, not news
    config = AutoConfig.from_pretrained(str(path))
    if config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES or getattr(config, "is_decoder", False):
        raise ValueError(
            f"{path}: a {config.model_type!r} backbone is a decoder; architecture='siamese' needs an encoder "
            "(DeBERTa-v3, RoBERTa, ELECTRA, BERT/MiniLM): use architecture='cross_encoder' for decoders"
        )
    encoder = AutoModel.from_pretrained(str(path))
    if not keep_pooler and isinstance(getattr(encoder, "pooler", None), nn.Module):
        encoder.pooler = None  # BERT-style [CLS] pooler: unused by mean pooling, so neither run nor trained
    return encoder


def new_siamese(
    path: Path | str,
    finetune: str = "lora",
    lora_r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.05,
    target_modules=None,
    gradient_checkpointing: bool = False,
    layers_to_transform=None,
    freeze_layers: int | None = None,
) -> SiameseNetwork:
    """A Siamese classifier to train: the encoder with LoRA adapters (in the chosen blocks; or all of it
    trainable) and a fresh head; the embeddings and first freeze_layers blocks left as they are."""
    encoder = load_encoder(path)
    frozen = frozen_layer_count(freeze_layers, path)
    if gradient_checkpointing:
        encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if finetune == "lora":
        layers = trained_layers(layers_to_transform, frozen, encoder.config.num_hidden_layers)
        encoder = add_lora(encoder, lora_r, lora_alpha, lora_dropout, target_modules, layers)
    elif layers_to_transform is not None:
        raise ValueError(
            "layers_to_transform chooses the blocks that get adapters: with finetune='full' set it to None"
        )
    else:
        freeze_lower_layers(encoder, frozen)
    return SiameseNetwork(encoder, SymmetricHead(encoder.config.hidden_size))


def save_siamese(model: SiameseNetwork, folder: Path, adapter_dir: Path) -> None:
    """The adapters into adapter_dir (peft's format) or the encoder's weights, and the head's weights."""
    from safetensors.torch import save_file

    if has_adapters(model.encoder):
        write_folder(adapter_dir, lambda temporary: model.encoder.save_pretrained(str(temporary)))
    else:
        encoder = {k: v.contiguous() for k, v in model.encoder.state_dict().items()}
        write_with(folder / ENCODER_FILE, lambda temporary: save_file(encoder, str(temporary)))
    head = {k: v.contiguous() for k, v in model.head.state_dict().items()}
    write_with(folder / HEAD_FILE, lambda temporary: save_file(head, str(temporary)))


def _saved_files(folder: Path, adapter_dir: Path, finetune: str) -> list[Path]:
    from peft.utils.constants import CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME

    if finetune == "lora":
        return [adapter_dir / CONFIG_NAME, adapter_dir / SAFETENSORS_WEIGHTS_NAME, folder / HEAD_FILE]
    return [folder / ENCODER_FILE, folder / HEAD_FILE]


def _load_weights(module: nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    try:
        module.load_state_dict(load_file(str(path)))
    except Exception as error:  # only a saved weights file is read here: whatever it raises, name it
        raise ArtifactError(
            f"{path}: the saved weights do not fit this backbone ({type(error).__name__}: {str(error)[:300]}); "
            "copy the model folder again, or retrain"
        ) from None


def load_siamese(folder: Path, adapter_dir: Path, path: Path | str, finetune: str) -> SiameseNetwork:
    """The saved Siamese classifier on the backbone at path, for inference."""
    missing = [str(file) for file in _saved_files(folder, adapter_dir, finetune) if not file.is_file()]
    if missing:
        raise ArtifactError(f"{folder}: no {', '.join(missing)}; copy the whole model folder, or retrain")
    encoder = load_encoder(path)
    if finetune == "lora":
        try:
            encoder = load_adapters(encoder, adapter_dir)
        except Exception as error:  # only the saved adapter files are read here: whatever they raise, name them
            raise ArtifactError(
                f"{adapter_dir}: the saved adapters do not load onto {path} ({type(error).__name__}: {error}); "
                "copy the model folder again, or retrain"
            ) from None
    else:
        _load_weights(encoder, folder / ENCODER_FILE)
    head = SymmetricHead(encoder.config.hidden_size)
    _load_weights(head, folder / HEAD_FILE)
    return SiameseNetwork(encoder, head).eval()
