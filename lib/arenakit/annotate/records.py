"""The annotation file: one JSONL record per response, appended whole and fsynced, read back on resume.

    key = annotation_key(prompt, response, "preference-properties@1/prompt1", "openai:llama-3.1-70b")
    store = RecordStore("build/annotations.jsonl")   # reads what is there, drops a torn last line
    store.done                                       # keys with a final outcome (ok, unparsable, refused)
    store.append(record)                             # one line, flushed and fsynced before it counts
    read_annotations(path)                           # {key: record} (arenakit.data.annotations: the models read it too)

A record: key, taxonomy, key_tag (taxonomy and judge prompt versions, what the key hashes), judge, outcome (ok | unparsable | refused | failed), ratings ({property:
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

import json
import os
from pathlib import Path

# The record format's reading and key live in the data layer, where the models and the pretraining read them too.
from arenakit.data.annotations import (
    FINAL_OUTCOMES,
    OUTCOMES,
    AnnotationFileError,
    annotation_key,
    read_annotations,
    read_lines,
)

__all__ = ["FINAL_OUTCOMES", "OUTCOMES", "AnnotationFileError", "RecordStore", "annotation_key", "read_annotations"]


class RecordStore:
    """The JSONL file of one annotation run, opened for appending after it has been read and repaired."""

    def __init__(self, path: Path | str, read_only: bool = False):
        self.path = Path(path)
        self.notes: list[str] = []
        records, torn, no_newline = read_lines(self.path) if self.path.exists() else ([], 0, False)
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
