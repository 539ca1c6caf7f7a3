"""Where the build puts what Kaggle gets, and how the later steps (push, rehearse) read it back.

build/datasets/<slug>/   dataset-metadata.json + files      (datasets.py)
build/kernels/<name>/    kernel-metadata.json + <name>.ipynb (kernels.py)

A trained-models dataset holds MODELS_MARKER (models_dataset.py writes it): the kernels build
and the rehearsal read which models it carries from there.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASET_METADATA = "dataset-metadata.json"
KERNEL_METADATA = "kernel-metadata.json"
METADATA = {"datasets": DATASET_METADATA, "kernels": KERNEL_METADATA}
MODELS_MARKER = "arenakit-models.json"


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


def carried_models(dataset_folder: Path) -> list[str]:
    """The models a built (or mounted) trained-models dataset carries; [] when the folder is not one."""
    path = Path(dataset_folder) / MODELS_MARKER
    return list(json.loads(path.read_text())["models"]) if path.is_file() else []
