"""What a .whl file declares: its name, version, tags, Requires-Python and Requires-Dist (read offline)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from arenakit.kaggle_build import BuildError


@dataclass(frozen=True)
class WheelInfo:
    path: Path
    name: str  # canonical
    version: str
    tags: frozenset
    requires_python: SpecifierSet
    requires: tuple  # Requirement objects, markers included

    @classmethod
    def read(cls, path: Path) -> WheelInfo:
        path = Path(path)
        try:
            name, version, _, tags = parse_wheel_filename(path.name)
            with zipfile.ZipFile(path) as archive:
                metadata_name = next(
                    n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1
                )
                metadata = Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
        except (InvalidWheelFilename, zipfile.BadZipFile, StopIteration, OSError) as error:
            raise BuildError(
                f"{path}: not a readable wheel ({error or 'no .dist-info/METADATA'}); delete it and "
                f"run `python build.py wheels` again"
            ) from None
        return cls(
            path=path,
            name=canonicalize_name(name),
            version=str(version),
            tags=frozenset(tags),
            requires_python=SpecifierSet(metadata.get("Requires-Python") or ""),
            requires=tuple(Requirement(line) for line in metadata.get_all("Requires-Dist") or ()),
        )

    def requirements_for(self, environment: dict, extras=()) -> list[Requirement]:
        """The requirements that apply on this environment, for the base package and the given extras."""
        wanted = []
        for requirement in self.requires:
            marker = requirement.marker
            if marker is None or any(marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)):
                wanted.append(requirement)
        return wanted
