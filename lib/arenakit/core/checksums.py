"""What was uploaded is what is loaded: a dataset's files against the sha256 its manifest.json recorded.

    sha256(path)                       # the hex digest, read in 4 MiB blocks
    check_against_manifest(folder)     # ArtifactError naming each changed, added or missing file

`build.py datasets` writes manifest.json at the top of every dataset it builds, with the sha256
and size of every file (arenakit.kaggle_build.manifest). A model folder read from such a dataset
(<dataset>/<model>/) is checked file by file before anything in it is used: a coefficient edited,
an adapter zeroed or a fold file dropped after the build would otherwise load without a word and
predict something else. A folder whose parent holds no manifest (the local run folder, a training
kernel's output) has nothing to be checked against.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from arenakit.core.artifacts import read_json
from arenakit.core.errors import ArtifactError, examples

MANIFEST = "manifest.json"
BLOCK_BYTES = 1 << 22


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_of(folder: Path) -> Path | None:
    """The manifest.json of the dataset a model folder sits in (its parent), None when there is none."""
    path = Path(folder).parent / MANIFEST
    return path if path.is_file() else None


def check_against_manifest(folder: Path) -> Path | None:
    """Every file under folder against its dataset's manifest; the manifest checked against, or None.

    ArtifactError, naming the files, when one differs from its recorded sha256, is not listed, or
    is listed but missing.
    """
    folder = Path(folder)
    manifest = manifest_of(folder)
    if manifest is None:
        return None
    rebuild = (
        "build the dataset again (`python build.py datasets --models RUN`) and push it, or attach the version "
        "that was built"
    )
    files = read_json(manifest, "a dataset manifest", f"rebuild the dataset: {rebuild}").get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{manifest}: no 'files' table of sha256 digests; {rebuild}")
    prefix = f"{folder.name}/"
    listed = {name.removeprefix(prefix): entry for name, entry in files.items() if name.startswith(prefix)}
    present = {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*")) if path.is_file()}
    changed = [
        name
        for name, path in present.items()
        if name in listed and (not isinstance(listed[name], dict) or listed[name].get("sha256") != sha256(path))
    ]
    added = [name for name in present if name not in listed]
    missing = [name for name in listed if name not in present]
    problems = [
        (changed, "differ from the sha256 recorded at the build"),
        (added, "are not in the manifest (added after the build)"),
        (missing, "are in the manifest but missing"),
    ]
    found = [f"{len(names)} file(s) {what}: {examples(names)}" for names, what in problems if names]
    if found:
        raise ArtifactError(
            f"{folder} does not match {manifest}: {'; '.join(found)}. Its files were changed after the build; {rebuild}"
        )
    return manifest
