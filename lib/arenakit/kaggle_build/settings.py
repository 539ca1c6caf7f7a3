"""The one source of Kaggle settings: the top-level kernel-metadata.json (the submission kernel).

    settings = KaggleSettings.read(ROOT / "kernel-metadata.json", owner=None)
    settings.owner                  # --owner, else $KAGGLE_USERNAME, else the owner in the file's id
    settings.kernel_ref("baseline")  # "<owner>/arenakit-baseline"
    settings.dataset_ref("wheels")   # "<owner>/arenakit-wheels"

Every other slug is derived from the submission kernel's: its slug less the "-<notebook>" suffix
is the prefix ("arenakit-ensemble" -> "arenakit"), and each kernel and dataset is
"<prefix>-<name>". The user edits the id (owner and slug), the title, is_private and
machine_shape; `python build.py pair` keeps the other fields of the file in step with the notebooks.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from arenakit.kaggle_build import BuildError

PLACEHOLDER_OWNER = "your-kaggle-username"
COMPETITION = "llm-classification-finetuning"
OWNER_ENV = "KAGGLE_USERNAME"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def slug_part(name: str) -> str:
    """A notebook or dataset name as it appears in a slug ("minilm_lgbm" -> "minilm-lgbm")."""
    return name.replace("_", "-").lower()


@dataclass(frozen=True)
class KaggleSettings:
    path: Path
    metadata: dict  # the file as it is
    owner: str

    @classmethod
    def read(cls, path: Path, owner: str | None = None, from_env: bool = True) -> KaggleSettings:
        """The settings of the file; owner: this one, else $KAGGLE_USERNAME (unless from_env is False), else the file's."""
        path = Path(path)
        try:
            metadata = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BuildError(
                f"{path}: missing; it is the submission kernel's metadata, the source of every "
                f"Kaggle setting (restore it from git)"
            ) from None
        except json.JSONDecodeError as error:
            raise BuildError(f"{path}: not valid JSON ({error}); fix it or restore it from git") from None
        for key in ("id", "title", "code_file"):
            if not isinstance(metadata.get(key), str):
                raise BuildError(f'{path}: needs a text {key!r} (id is "owner/slug")')
        file_owner, sep, slug = metadata["id"].partition("/")
        if not sep or not _SLUG.match(slug) or len(slug) < 5:
            raise BuildError(
                f'{path}: id {metadata["id"]!r} must be "owner/slug" with a slug of 5+ lowercase '
                f"letters, digits and hyphens"
            )
        chosen = owner or (os.environ.get(OWNER_ENV) if from_env else None) or file_owner
        if not _OWNER.match(chosen):
            raise BuildError(f"Kaggle owner {chosen!r} (from --owner, ${OWNER_ENV} or {path}) is not a user name")
        return cls(path, metadata, chosen)

    @property
    def slug(self) -> str:
        return self.metadata["id"].partition("/")[2]

    @property
    def submission_name(self) -> str:
        """The submission notebook's name: the stem of code_file ("notebooks/ensemble.ipynb" -> "ensemble")."""
        return Path(self.metadata["code_file"]).stem

    @property
    def prefix(self) -> str:
        suffix = "-" + slug_part(self.submission_name)
        return self.slug[: -len(suffix)] if self.slug.endswith(suffix) and len(self.slug) > len(suffix) else self.slug

    @property
    def has_placeholder_owner(self) -> bool:
        return self.owner == PLACEHOLDER_OWNER

    def kernel_slug(self, name: str) -> str:
        return self.slug if name == self.submission_name else f"{self.prefix}-{slug_part(name)}"

    def kernel_ref(self, name: str) -> str:
        return f"{self.owner}/{self.kernel_slug(name)}"

    def kernel_title(self, name: str) -> str:
        # Kaggle derives a kernel's URL from its title: the title must slugify back to the slug.
        return self.metadata["title"] if name == self.submission_name else self.kernel_slug(name).replace("-", " ")

    def dataset_slug(self, kind: str) -> str:
        slug = f"{self.prefix}-{kind}"
        if not 6 <= len(slug) <= 50:
            raise BuildError(
                f"dataset slug {slug!r} (from the id in {self.path}) must be 6-50 characters; "
                f"shorten or lengthen the kernel slug"
            )
        return slug

    def dataset_ref(self, kind: str) -> str:
        return f"{self.owner}/{self.dataset_slug(kind)}"

    @property
    def machine_shape(self) -> str:
        return self.metadata.get("machine_shape") or "NvidiaTeslaT4"

    @property
    def is_private(self) -> bool:
        return bool(self.metadata.get("is_private", True))
