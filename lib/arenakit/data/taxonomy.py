"""The taxonomy a judge rates responses on: a versioned JSON data file (the paper's properties by default).

    taxonomy = load_taxonomy()                    # the default, taxonomy_paper_v1.json beside this file
    taxonomy = load_taxonomy("my_taxonomy.json")  # a user's own, same form
    taxonomy.tag                                  # "preference-properties@1": part of every record's key

A taxonomy file holds: name, version, task (the judge's instructions), scale (what 0-3 mean),
yes_no (what 0/1 mean), properties (name, kind "rating" 0-3 or "yes_no" 0/1, group, definition)
and examples (few-shot: prompt, response, a rating for every property, reasons for some). It is
read as data (json), never run. Change a definition or an example and bump the version: records
are keyed by it, so a rerun rates again instead of mixing ratings made under two wordings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy_paper_v1.json")
# The values each kind of property takes.
KIND_VALUES = {"rating": (0, 1, 2, 3), "yes_no": (0, 1)}
_REQUIRED = ("name", "version", "task", "scale", "yes_no", "properties", "examples")


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used: the message names the file, the field and what to write."""


@dataclass(frozen=True)
class Property:
    name: str
    kind: str
    group: str
    definition: str

    @property
    def values(self) -> tuple[int, ...]:
        return KIND_VALUES[self.kind]


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    task: str
    scale: dict
    yes_no: dict
    properties: tuple[Property, ...]
    examples: tuple[dict, ...]

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


def _check_example(path: Path, index: int, example: dict, properties: tuple[Property, ...]) -> None:
    where = f"{path}: examples[{index}]"
    for field in ("prompt", "response", "ratings"):
        if field not in example:
            raise TaxonomyError(
                f"{where} lacks {field!r}; an example needs prompt, response and ratings (reasons optional)."
            )
    ratings = example["ratings"]
    for prop in properties:
        if ratings.get(prop.name) not in prop.values:
            raise TaxonomyError(
                f"{where}: ratings[{prop.name!r}] is {ratings.get(prop.name)!r}; a {prop.kind} property takes one of "
                f"{list(prop.values)}. Give every property a rating in each example."
            )


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read and check a taxonomy file (default: the paper's properties, version 1)."""
    path = Path(path) if path is not None else DEFAULT_TAXONOMY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(
            f"{path}: taxonomy file not found. Pass --taxonomy with a JSON file like {DEFAULT_TAXONOMY.name}."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TaxonomyError(f"{path}: not valid JSON ({error}). Start from {DEFAULT_TAXONOMY}.") from None
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}: the top level must be a JSON object with {', '.join(_REQUIRED)}.")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise TaxonomyError(f"{path}: missing field(s) {', '.join(missing)}; a taxonomy needs {', '.join(_REQUIRED)}.")
    properties = []
    for index, entry in enumerate(data["properties"]):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("name", "kind", "definition")
        ):
            raise TaxonomyError(f"{path}: properties[{index}] needs string fields name, kind and definition.")
        if entry["kind"] not in KIND_VALUES:
            raise TaxonomyError(
                f"{path}: properties[{index}] ({entry['name']!r}) has kind {entry['kind']!r}; use one of {', '.join(KIND_VALUES)}."
            )
        properties.append(Property(entry["name"], entry["kind"], str(entry.get("group", "")), entry["definition"]))
    names = [p.name for p in properties]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if not properties or repeated:
        problem = f"repeated name(s) {', '.join(repeated)}" if repeated else "no properties"
        raise TaxonomyError(f"{path}: {problem}; list each property once.")
    properties = tuple(properties)
    for index, example in enumerate(data["examples"]):
        _check_example(path, index, example, properties)
    return Taxonomy(
        str(data["name"]),
        str(data["version"]),
        data["task"],
        data["scale"],
        data["yes_no"],
        properties,
        tuple(data["examples"]),
    )
