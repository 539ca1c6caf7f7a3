"""Where the build puts what Kaggle gets, and how the later steps (push, rehearse) read it back.

build/datasets/<slug>/   dataset-metadata.json + files      (datasets.py)
build/kernels/<name>/    kernel-metadata.json + <name>.ipynb (kernels.py)
"""

from __future__ import annotations

import json
from pathlib import Path

DATASET_METADATA = "dataset-metadata.json"
KERNEL_METADATA = "kernel-metadata.json"
METADATA = {"datasets": DATASET_METADATA, "kernels": KERNEL_METADATA}


def built_folder(build_dir: Path, kind: str, name: str) -> Path:
    """kind: "datasets" or "kernels"."""
    return Path(build_dir) / kind / name


def read_built(build_dir: Path, kind: str) -> dict:
    """ref (the metadata's id) -> (folder, metadata) of every built dataset or kernel, by folder name."""
    found = {}
    for folder in sorted(Path(build_dir, kind).glob("*/")):
        if (folder / METADATA[kind]).is_file():
            metadata = json.loads((folder / METADATA[kind]).read_text())
            found[metadata["id"]] = (folder, metadata)
    return found
