"""The Kaggle image's packages, read from a `pip freeze` style snapshot (wheels/kaggle-image.txt).

    image = ImageSnapshot.read(Path("wheels/kaggle-image.txt"))
    image.version("transformers")                 # "5.0.0"
    image.satisfies(Requirement("torch>=2.1"))    # True: 2.10.0+cu128 is in the image

Lines are name==version, name @ URL (the version is read from a wheel or sdist file name in the
URL) or a bare name (present, version unknown: it satisfies only a requirement without a version
specifier). Comments and blank lines are skipped; anything else is an error naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from arenakit.kaggle_build import BuildError

# The torch build and its CUDA libraries: installed from their own index, never pinned from the image
# in a local environment (the local torch is a CPU build of another version).
TORCH_FAMILY = re.compile(r"^(torch|torchvision|torchaudio|torchcodec|torchao|triton|nvidia-.*)$")
_FILE_VERSION = re.compile(r"^[A-Za-z0-9_.]+?-(\d[^-]*?)(?:-|\.tar\.gz$|\.zip$)")


@dataclass(frozen=True)
class ImageSnapshot:
    path: Path
    versions: dict  # canonical name -> version string, or None when the version is unknown

    @classmethod
    def read(cls, path: Path) -> ImageSnapshot:
        path = Path(path)
        if not path.is_file():
            raise BuildError(
                f"{path}: the image snapshot is missing; restore it from git or refresh it from a "
                f"Kaggle notebook's `pip freeze` (see its header)"
            )
        versions = {}
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            name, version = _parse_line(line, f"{path}:{number}")
            versions[canonicalize_name(name)] = version
        return cls(path, versions)

    def version(self, name: str) -> str | None:
        return self.versions.get(canonicalize_name(name))

    def has(self, name: str) -> bool:
        return canonicalize_name(name) in self.versions

    def satisfies(self, requirement: Requirement) -> bool:
        """True when the image's version of this package meets the requirement's version specifier."""
        if not self.has(requirement.name):
            return False
        version = self.version(requirement.name)
        if version is None:
            return not requirement.specifier
        return requirement.specifier.contains(version, prereleases=True)

    def constraints(self, names: list[str]) -> str:
        """pip constraints pinning these packages to the image's versions (local version labels dropped).

        Only the packages named: pinning the whole image would pin torch's own dependencies too
        (setuptools, sympy, ...) and make pip trade the local torch for the image's CUDA build.
        """
        lines = [f"# the versions of {self.path.name}, for `pip install -c`"]
        for name in names:
            version = self.version(name)
            if version is None:
                raise BuildError(
                    f"{name}: {'no version in' if self.has(name) else 'not in'} {self.path}; "
                    f"name packages the image snapshot pins"
                )
            if TORCH_FAMILY.match(canonicalize_name(name)):
                raise BuildError(
                    f"{name}: torch and its CUDA libraries are installed from their own build; "
                    f"leave them out of the constraints"
                )
            lines.append(f"{canonicalize_name(name)}=={Version(version).public}")
        return "\n".join(lines) + "\n"


def _parse_line(line: str, where: str) -> tuple[str, str | None]:
    if line.startswith("-"):
        raise BuildError(f"{where}: {line!r} is a pip option, not a package; a snapshot holds `pip freeze` lines")
    if " @ " in line:
        name, url = (part.strip() for part in line.split(" @ ", 1))
        match = _FILE_VERSION.match(Path(urlsplit(url).path).name)
        return name, _checked_version(match.group(1), where) if match else None
    try:
        requirement = Requirement(line)
    except InvalidRequirement as error:
        raise BuildError(
            f"{where}: {line!r} is not a `pip freeze` line (name==version, name @ URL or a name): {error}"
        ) from None
    pins = [spec.version for spec in requirement.specifier if spec.operator in ("==", "===")]
    return requirement.name, _checked_version(pins[0], where) if pins else None


def _checked_version(version: str, where: str) -> str:
    try:
        Version(version)
    except InvalidVersion:
        raise BuildError(f"{where}: {version!r} is not a valid version") from None
    return version
