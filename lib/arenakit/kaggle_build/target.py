"""The interpreter and platform the bundled wheels are for.

    Target()                             # Kaggle: CPython 3.12 on manylinux x86_64, every manylinux tag named
    Target(python_version="3.11")        # the local Python (tests install the bundle into a fresh venv)
    Target().pip_download_args()         # --only-binary=:all: --python-version 3.12 --implementation cp ...
    Target().marker_environment()        # what environment markers ("python_version < '3.13'") see

pip picks old builds silently unless every manylinux tag is named, so the default lists them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.tags import Tag, compatible_tags, cpython_tags

from arenakit.kaggle_build import BuildError

KAGGLE_PYTHON = "3.12"
KAGGLE_PLATFORMS = ("manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in (17, 24, 27, 28, 31, 34, 35)))
_LINUX_TAG = re.compile(r"^(many|musl)?linux.*?_(x86_64|aarch64)$")


@dataclass(frozen=True)
class Target:
    python_version: str = KAGGLE_PYTHON
    platforms: tuple = field(default=KAGGLE_PLATFORMS)

    def __post_init__(self):
        if not re.fullmatch(r"3\.\d+", self.python_version):
            raise BuildError(f"--python-version {self.python_version!r}: give MAJOR.MINOR, e.g. 3.12")
        machines = {_machine(tag) for tag in self.platforms}
        if len(machines) != 1:
            raise BuildError(f"--platform {', '.join(self.platforms)}: give tags of one machine type")

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    @property
    def machine(self) -> str:
        return _machine(self.platforms[0])

    def describe(self) -> str:
        tags = (
            self.platforms[0]
            if len(self.platforms) == 1
            else f"{self.machine} Linux, {len(self.platforms)} platform tags"
        )
        return f"CPython {self.python_version} ({tags})"

    def pip_download_args(self) -> list[str]:
        args = [
            "--only-binary=:all:",
            "--python-version",
            self.python_version,
            "--implementation",
            "cp",
            "--abi",
            self.abi,
        ]
        for platform in self.platforms:
            args += ["--platform", platform]
        return args

    def marker_environment(self, extra: str = "") -> dict:
        full = f"{self.python_version}.0"
        return {
            "implementation_name": "cpython",
            "implementation_version": full,
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": full,
            "python_version": self.python_version,
            "sys_platform": "linux",
            "extra": extra,
        }

    def supported_tags(self) -> set[Tag]:
        version = tuple(int(part) for part in self.python_version.split("."))
        platforms = list(self.platforms) + ["linux_" + self.machine]
        return {*cpython_tags(version, platforms=platforms), *compatible_tags(version, platforms=platforms)}

    def to_json(self) -> dict:
        return {"python_version": self.python_version, "platforms": list(self.platforms)}


def _machine(platform: str) -> str:
    match = _LINUX_TAG.match(platform)
    if not match:
        raise BuildError(
            f"--platform {platform!r}: only Linux wheel tags are supported (Kaggle runs Linux), "
            f"e.g. manylinux_2_28_x86_64"
        )
    return match.group(2)
