"""What a model reads, made from a parsed frame: formatted and truncated text, embeddings, backbones, features.

formatting  the kit's one text formatter and truncation, versioned (training and inference share it)
embedder    sentence embeddings of the competition texts, length-sorted, cached
backbones   where a Hugging Face backbone's weights are (a folder, the bundled MiniLM, /kaggle/input, the HF cache)
features    surface features (length, structure, refusals, similarity)
"""

from arenakit.inputs.backbones import (
    KAGGLE_MODELS_FILE,
    KAGGLE_PREFIX,
    MINILM,
    MINILM_HUB_NAME,
    BackboneNotFound,
    folder_name,
    kaggle_model_mounts,
    parse_kaggle_handle,
    read_kaggle_models,
    resolve_backbone,
    write_marker,
)
from arenakit.inputs.embedder import SentenceEmbedder, cpu_has_native_bf16
from arenakit.inputs.features import surface_features
from arenakit.inputs.formatting import FORMATTER_VERSION, format_sides

__all__ = [
    "FORMATTER_VERSION",
    "KAGGLE_MODELS_FILE",
    "KAGGLE_PREFIX",
    "MINILM",
    "MINILM_HUB_NAME",
    "BackboneNotFound",
    "SentenceEmbedder",
    "backbones",
    "cpu_has_native_bf16",
    "embedder",
    "features",
    "folder_name",
    "format_sides",
    "formatting",
    "kaggle_model_mounts",
    "parse_kaggle_handle",
    "read_kaggle_models",
    "resolve_backbone",
    "surface_features",
    "write_marker",
]
