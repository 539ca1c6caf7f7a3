"""Reading an annotation file (python -m arenakit.annotate's JSONL): the one place that knows its keys.

    records = read_annotations("build/annotations.jsonl")          # {key: record}
    source = choose_source(records, "build/annotations.jsonl")     # the file's only (judge, key tag), or
    source = choose_source(records, path, "openai:llama-70b")      # the one named (judge, or "judge|tag")
    table = side_ratings(frame, "a", records, source)              # a row per frame row, a column per property

A record's key is sha256 of (prompt, response, key tag, judge): the key tag names the taxonomy
version and the judge prompt's version ("preference-properties@1/prompt1"). The annotate command
writes records (arenakit.annotate.records.RecordStore) and the models and the property pretraining
read them here, below both in the layers, so writer and readers share one key function.

A record: key, taxonomy, key_tag, judge, outcome (ok | unparsable | refused | failed), ratings
({property: 0-3, 0/1 or null}), reasons, raw, error, tries, usage, source, seconds. Records
written before key_tag was stored were all made with the judge prompt's version 1, so their key
tag is "<taxonomy>/prompt1".
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

OUTCOMES = ("ok", "unparsable", "refused", "failed")
FINAL_OUTCOMES = ("ok", "unparsable", "refused")
# Joins a judge and a key tag in a source's name (properties_judge="openai:llama-70b|preference-properties@1/prompt1").
SOURCE_SEPARATOR = "|"


class AnnotationFileError(ValueError):
    """An annotation file that cannot be used: the message names the file and what to do."""


def annotation_key(prompt: str, response: str, key_tag: str, judge: str) -> str:
    """sha256 of (prompt, response, key tag, judge): the same response under the same judge is rated once."""
    payload = json.dumps([prompt, response, key_tag, judge], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def response_keys(frame: pd.DataFrame, side: str, key_tag: str, judge: str) -> list[str]:
    """The annotation key of each row's response on this side ("a" or "b") of a parsed frame."""
    return [annotation_key(p, r, key_tag, judge) for p, r in zip(frame["prompt"], frame[f"response_{side}"])]


def read_lines(path: Path) -> tuple[list[dict], int, bool]:
    """The records, the bytes of a torn last line (0 if none), and whether the last record lacked only its newline."""
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    torn = len(data) - complete
    records = []
    for number, line in enumerate(data[:complete].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict) or "key" not in record or record.get("outcome") not in OUTCOMES:
            raise AnnotationFileError(
                f"{path}: line {number} is not an annotation record ({line[:80]!r}). Only a torn LAST line is "
                "expected after a kill; remove or fix that line (or write to a new --out file)."
            )
        records.append(record)
    if torn:
        # The torn piece may still parse as a whole record only if the newline was the lost byte; keep it then.
        try:
            record = json.loads(data[complete:])
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if isinstance(record, dict) and record.get("outcome") in OUTCOMES and "key" in record:
            records.append(record)
            return records, 0, True
    return records, torn, False


def read_annotations(path: Path | str) -> dict[str, dict]:
    """Every complete record by key (a torn last line ignored); a clear error when the file is not there."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no annotation file there; write one with `python -m arenakit.annotate --out {path}` "
            "or pass the path of an existing one"
        )
    stat = path.stat()
    return _cached_annotations(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _cached_annotations(path: str, size: int, mtime_ns: int) -> dict[str, dict]:
    # K fold models and swap averaging read one file many times: read it once per version of the file.
    return {record["key"]: record for record in read_lines(Path(path))[0]}


def record_key_tag(record: dict) -> str:
    """The key tag a record was keyed under (see the module docstring for records without one)."""
    return record.get("key_tag") or f"{record.get('taxonomy')}/prompt1"


@dataclass(frozen=True)
class RatingSource:
    """Whose ratings, under which taxonomy and prompt: what a row's key is computed with."""

    judge: str
    key_tag: str

    @property
    def name(self) -> str:
        return f"{self.judge}{SOURCE_SEPARATOR}{self.key_tag}"


def sources(records: dict[str, dict]) -> dict[RatingSource, int]:
    """The (judge, key tag) pairs of a file's ok records, with how many each has."""
    counts: dict[RatingSource, int] = {}
    for record in records.values():
        if record["outcome"] == "ok":
            source = RatingSource(str(record.get("judge")), record_key_tag(record))
            counts[source] = counts.get(source, 0) + 1
    return counts


def choose_source(records: dict[str, dict], path: Path | str, wanted: str | None = None) -> RatingSource:
    """The file's only source, or the one `wanted` names (a judge, or "judge|key tag"); else an error naming the file."""
    found = sources(records)
    listed = "; ".join(f"{source.name!r} ({count} ok records)" for source, count in found.items())
    if not found:
        raise AnnotationFileError(
            f"{path}: no ok annotation record (every response unparsable, refused or failed, or the file is "
            "empty); rate the responses with python -m arenakit.annotate first"
        )
    if wanted is None:
        if len(found) == 1:
            return next(iter(found))
        raise AnnotationFileError(
            f"{path}: ratings of {len(found)} judges or taxonomy versions: {listed}. Choose one with "
            "properties_judge= (the judge's name, or 'judge|key tag' when one judge rated under several versions)."
        )
    matches = [source for source in found if wanted in (source.judge, source.name)]
    if len(matches) != 1:
        problem = "matches none" if not matches else "matches several"
        raise AnnotationFileError(
            f"{path}: properties_judge={wanted!r} {problem} of the file's sources: {listed}. "
            "Pass one of them as written (a judge, or 'judge|key tag')."
        )
    return matches[0]


def property_names(records: dict[str, dict], source: RatingSource) -> tuple[str, ...]:
    """The properties rated by this source, in the order of its records (the taxonomy's order)."""
    names: dict[str, None] = {}
    for record in records.values():
        if record["outcome"] == "ok" and RatingSource(str(record.get("judge")), record_key_tag(record)) == source:
            names.update(dict.fromkeys(record.get("ratings") or {}))
    return tuple(names)


def side_ratings(
    frame: pd.DataFrame, side: str, records: dict[str, dict], source: RatingSource, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(ratings, rated): a float64 (rows, properties) array, NaN where a response has no ok record or a
    null rating, and whether each row's response has an ok record."""
    ratings = np.full((len(frame), len(names)), np.nan)
    rated = np.zeros(len(frame), bool)
    for row, key in enumerate(response_keys(frame, side, source.key_tag, source.judge)):
        record = records.get(key)
        if record is None or record["outcome"] != "ok":
            continue
        rated[row] = True
        values = record.get("ratings") or {}
        for column, name in enumerate(names):
            value = values.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ratings[row, column] = value
    return ratings, rated
