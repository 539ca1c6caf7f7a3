"""What a model reads, made from a parsed frame: formatted and truncated text, embeddings, backbones, features.

formatting  the kit's one text formatter and truncation, versioned (training and inference share it)
embedder    sentence embeddings of the competition texts, length-sorted, cached
backbones   where a Hugging Face backbone's weights are (a folder, the bundled MiniLM, /kaggle/input, the HF cache)
features    surface features (length, structure, refusals, similarity)
"""

__all__ = ["backbones", "embedder", "features", "formatting"]
