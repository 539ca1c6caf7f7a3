"""The annotation file: one JSONL record per response, appended whole and fsynced, read back on resume.

    key = annotation_key(prompt, response, "preference-properties@1/prompt1", "openai:llama-3.1-70b")
    store = RecordStore("build/annotations.jsonl")   # reads what is there, drops a torn last line
    store.done                                       # keys with a final outcome (ok, unparsable, refused)
    store.append(record)                             # one line, flushed and fsynced before it counts
    read_annotations(path)                           # {key: record}, for feature and pretraining code

A record: key, taxonomy, judge, outcome (ok | unparsable | refused | failed), ratings ({property:
0-3, 0/1 or null}), reasons, raw (the judge's text when it did not parse or refused), error (why a
request failed), tries, usage ({prompt_tokens, completion_tokens} or null), source ({file, id,
side} of the first row that holds this response), seconds.

Why it survives kill -9: a record is one write of one line, flushed and fsynced; a kill between
two writes loses nothing written, a kill during one leaves at most a torn last line, which the
next run reports and cuts off before appending. "failed" records (the endpoint did not answer
after every try) are not final: the next run removes them (rewriting the file atomically) and
tries those responses again, so each key has at most one record.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

OUTCOMES = ("ok", "unparsable", "refused", "failed")
FINAL_OUTCOMES = ("ok", "unparsable", "refused")


class AnnotationFileError(ValueError):
    """An annotation file with a damaged line that a kill cannot explain (not the last line)."""


def annotation_key(prompt: str, response: str, taxonomy_tag: str, judge: str) -> str:
    """sha256 of (prompt, response, taxonomy version, judge): the same response under the same judge is rated once."""
    payload = json.dumps([prompt, response, taxonomy_tag, judge], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _read_lines(path: Path) -> tuple[list[dict], int, bool]:
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
    """Every complete record by key (a torn last line ignored)."""
    return {record["key"]: record for record in _read_lines(Path(path))[0]}


class RecordStore:
    """The JSONL file of one annotation run, opened for appending after it has been read and repaired."""

    def __init__(self, path: Path | str, read_only: bool = False):
        self.path = Path(path)
        self.notes: list[str] = []
        records, torn, no_newline = _read_lines(self.path) if self.path.exists() else ([], 0, False)
        failed = [r for r in records if r["outcome"] == "failed"]
        kept = [r for r in records if r["outcome"] != "failed"]
        self.done = {record["key"]: record["outcome"] for record in kept}
        self._file = None
        if read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if torn:
            self.notes.append(
                f"{self.path}: cut off a torn last line ({torn} bytes, a record being written when the run stopped)"
            )
        if no_newline:
            self.notes.append(f"{self.path}: the last record lacked its newline; added it")
        if failed or torn or no_newline:
            self._rewrite(kept)
            if failed:
                self.notes.append(
                    f"{self.path}: {len(failed)} failed record(s) removed; their responses are tried again"
                )
        self._file = open(self.path, "ab")  # closed by close()

    def _rewrite(self, records: list[dict]) -> None:
        """Replace the file with these records, atomically (a kill leaves the old file or the new one)."""
        temporary = self.path.with_name(self.path.name + ".rewrite")
        with open(temporary, "wb") as file:
            for record in records:
                file.write(_line(record))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)

    def append(self, record: dict) -> None:
        self._file.write(_line(record))
        self._file.flush()
        os.fsync(self._file.fileno())
        if record["outcome"] in FINAL_OUTCOMES:
            self.done[record["key"]] = record["outcome"]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _line(record: dict) -> bytes:
    # A lone surrogate (broken text) would make the line invalid UTF-8 and the file unreadable: replace it.
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace")
