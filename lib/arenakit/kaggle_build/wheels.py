"""The wheel bundle: arenakit's own wheel plus every dependency the Kaggle image lacks, checked offline.

    bundle = build_bundle(ROOT, ROOT / "wheels", Target())
    bundle.unmet      # requirements neither the bundle nor the image meets (empty when it installs)

Inputs, in wheels/: requirements.txt (what to bundle beyond arenakit's own requirements) and
kaggle-image.txt (the image snapshot). Starting from arenakit's wheel and that list, each
requirement the image already meets is left to the image (its version is what the notebooks
get); each one it does not is downloaded for the target with --no-deps and its own requirements
are followed the same way. So nothing the image has is ever downloaded: no torch, no CUDA wheels.
The result goes to the output folder with WHEELS_MARKER (target, wheel list, check result), which
the datasets step copies and the notebooks' bootstrap cell looks for.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from arenakit.core import write_json
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.bootstrap import WHEELS_MARKER
from arenakit.kaggle_build.closure import check_closure, requested_extras
from arenakit.kaggle_build.image import ImageSnapshot
from arenakit.kaggle_build.pip_download import download
from arenakit.kaggle_build.safe_copy import regular_files
from arenakit.kaggle_build.target import Target
from arenakit.kaggle_build.wheel_info import WheelInfo

REQUIREMENTS_FILE = "requirements.txt"
SNAPSHOT_FILE = "kaggle-image.txt"
# What the project's build backend needs from the tree (pyproject's readme is README.md).
PROJECT_FILES = ("pyproject.toml", "README.md")


@dataclass
class Bundle:
    folder: Path
    target: Target
    wheels: list  # WheelInfo, arenakit's first
    unmet: list  # closure.Unmet
    notes: list = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(wheel.path.stat().st_size for wheel in self.wheels)


def read_requirements(path: Path) -> list[Requirement]:
    requirements = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as error:
            raise BuildError(
                f"{path}:{number}: {line!r} is not a requirement (pip syntax, one per line): {error}"
            ) from None
    return requirements


def build_project_wheel(root: Path, into: Path, offline: bool = False) -> Path:
    """arenakit's wheel, built from a copy of the tree (so the build leaves nothing in the repo)."""
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".arenakit-wheel-", dir=into) as scratch:
        source = Path(scratch) / "source"
        source.mkdir()
        for name in PROJECT_FILES:
            shutil.copy2(root / name, source / name)
        regular_files(root / "lib")  # a link in the tree would put what it points at into the wheel
        shutil.copytree(root / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        # An isolated build downloads the backend; reuse the installed one when it is the right version.
        isolated = not _build_backend_installed(root)
        if offline and isolated:
            raise BuildError(
                "offline: the build backend named in pyproject.toml's [build-system] is not installed "
                "here, and an isolated build would download it; install it or run without --offline"
            )
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            *([] if isolated else ["--no-build-isolation"]),
            "--wheel-dir",
            str(Path(scratch) / "out"),
            str(source),
        ]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise BuildError(f"building the arenakit wheel failed:\n{(completed.stdout + completed.stderr)[-3000:]}")
        built = next((Path(scratch) / "out").glob("arenakit-*.whl"))
        final = into / built.name
        os.replace(built, final)
    return final


def _build_backend_installed(root: Path) -> bool:
    try:
        import tomllib
    except ImportError:  # Python 3.10: let pip set up the backend
        return False
    requires = tomllib.loads((root / "pyproject.toml").read_text())["build-system"]["requires"]
    for line in requires:
        requirement = Requirement(line)
        try:
            if not requirement.specifier.contains(importlib.metadata.version(requirement.name), prereleases=True):
                return False
        except importlib.metadata.PackageNotFoundError:
            return False
    return True


def build_bundle(
    root: Path, wheels_dir: Path, target: Target, out_dir: Path | None = None, retries: int = 3, offline: bool = False
) -> Bundle:
    """Build arenakit's wheel, add what the image lacks, check the closure, write the marker; see the module doc."""
    out_dir = Path(out_dir or wheels_dir)
    image = ImageSnapshot.read(wheels_dir / SNAPSHOT_FILE)
    listed = read_requirements(wheels_dir / REQUIREMENTS_FILE)
    project = WheelInfo.read(build_project_wheel(root, out_dir, offline=offline))
    bundled = {project.name: project}
    notes = []
    pending = listed + project.requirements_for(target.marker_environment())
    while pending:
        missing = _missing(pending, bundled, image, target)
        new = []
        # Offline, one requirement at a time: a wheel that is not there yet is noted, not fatal.
        groups = [[r] for r in missing] if offline else [missing] if missing else []
        for group in groups:
            try:
                new += [
                    WheelInfo.read(path)
                    for path in download([str(r) for r in group], target, out_dir, retries, offline)
                ]
            except BuildError as error:
                if not offline:
                    raise
                notes.append(f"offline: skipped downloading {group[0]} ({error.args[0].splitlines()[0]})")
        for wheel in new:
            bundled[wheel.name] = wheel
        asked = {canonicalize_name(r.name): r.extras for r in missing}
        pending = [
            r for wheel in new for r in wheel.requirements_for(target.marker_environment(), asked.get(wheel.name, ()))
        ]
    wheels = [project] + sorted((w for w in bundled.values() if w is not project), key=lambda w: w.name)
    if not offline:
        notes += _remove_stale(out_dir, {wheel.path.name for wheel in wheels})
    extras = requested_extras(listed + project.requirements_for(target.marker_environment()), wheels, target)
    bundle = Bundle(out_dir, target, wheels, check_closure(wheels, image, target, extras), notes)
    write_marker(bundle, listed)
    return bundle


def _missing(pending: list[Requirement], bundled: dict, image: ImageSnapshot, target: Target) -> list[Requirement]:
    """Requirements that neither the bundle nor the image meets, one per package, markers evaluated here."""
    wanted = {}
    for requirement in pending:
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None and not requirement.marker.evaluate(target.marker_environment()):
            continue
        if name in bundled or name in wanted or image.satisfies(requirement):
            continue
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        wanted[name] = Requirement(f"{requirement.name}{extras}{requirement.specifier}")
    return list(wanted.values())


def _remove_stale(out_dir: Path, keep: set) -> list[str]:
    """Delete the wheels of earlier bundles, so the folder holds exactly this one."""
    removed = []
    for wheel in sorted(out_dir.glob("*.whl")):
        if wheel.name not in keep:
            wheel.unlink()
            removed.append(f"removed {wheel.name}: no longer part of the bundle")
    return removed


def write_marker(bundle: Bundle, listed: list[Requirement]) -> Path:
    path = bundle.folder / WHEELS_MARKER
    record = {
        "target": bundle.target.to_json(),
        "requirements": [str(requirement) for requirement in listed],
        "wheels": [wheel.path.name for wheel in bundle.wheels],
        "unmet": [str(item) for item in bundle.unmet],
        "notes": bundle.notes,
    }
    return write_json(path, record, indent=2)


def read_marker(folder: Path) -> dict:
    path = Path(folder) / WHEELS_MARKER
    if not path.is_file():
        raise BuildError(f"{folder}: no {WHEELS_MARKER} there; run `python build.py wheels` first")
    record = json.loads(path.read_text())
    absent = [name for name in record["wheels"] if not (Path(folder) / name).is_file()]
    if absent:
        raise BuildError(
            f"{path} lists wheels that are not in {folder}: {', '.join(absent)}; run `python build.py wheels` again"
        )
    return record
