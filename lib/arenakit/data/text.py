"""Turning one competition text field into clean turns.

Each prompt/response cell is a JSON list of strings, one per turn. Entries can be null, whole
responses can be "[null]" (the model said nothing), and a few cells elsewhere may not be JSON
at all. Parsing never loses a row: a cell that is not a JSON list is kept as one turn of raw
text and reported, so the caller can show what happened.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Lone surrogates survive json.loads of "\\ud83d" without its pair and break UTF-8 encoding
# later (tokenizers, CSV writers). json.loads already joins valid pairs, so any left are lone.
_SURROGATES = re.compile("[\ud800-\udfff]")
# Control characters except tab and newline; zero-width space and BOM carry no text either.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f]")
_CARRIAGE_RETURN = re.compile("\r\n?")
# Trailing blanks on a line carry nothing; leading ones are code indentation and stay.
_TRAILING_BLANKS = re.compile("[ \t]+(?=\n|$)")
_BLANK_LINE_RUNS = re.compile("\n{3,}")
# A quick test for whether a string needs any cleaning at all (most do not): one character-class
# scan plus substring checks, all in C; an alternation regex here costs ten times as much.
_ODD_CHARACTERS = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u00a0\u2000-\u200b\u202f\u205f\ufeff]")
_ODD_SUBSTRINGS = (" \n", "\t\n", "\n\n\n")


def _needs_cleaning(text: str) -> bool:
    return (
        text.startswith("\n")
        or text.endswith((" ", "\t"))
        or any(part in text for part in _ODD_SUBSTRINGS)
        or _ODD_CHARACTERS.search(text) is not None
    )


TURN_SEPARATOR = "\n\n"


def clean_text(text: str) -> str:
    """Remove broken surrogates and control characters and normalise whitespace.

    Line breaks become "\\n", odd Unicode spaces become " ", trailing blanks and runs of more
    than one empty line go; leading indentation (code) is kept as it is.
    """
    if not _needs_cleaning(text):
        return text
    text = _SURROGATES.sub("", text)
    text = _CARRIAGE_RETURN.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    text = _TRAILING_BLANKS.sub("", text)
    text = _BLANK_LINE_RUNS.sub("\n\n", text)
    return text.lstrip("\n")


@dataclass(frozen=True)
class ParsedField:
    """The turns of one cell and what parsing had to do to get them."""

    turns: tuple[str, ...]
    all_null: bool  # every turn was null, e.g. the "[null]" responses: the model said nothing
    problem: str | None  # why the cell was kept as raw text; None when it parsed cleanly


def parse_turns(cell: object) -> ParsedField:
    """Parse one JSON-list cell into cleaned turns; null entries become empty strings."""
    if not isinstance(cell, str) or not cell.strip():
        return ParsedField(("",), True, "empty cell")
    try:
        # strict=False: a line break or other control character typed inside a string is still
        # that string's text (clean_text normalises it), not a reason to keep the cell raw.
        value = json.loads(cell, strict=False)
    except ValueError as error:
        return ParsedField((clean_text(cell),), False, f"not valid JSON ({getattr(error, 'msg', error)})")
    except RecursionError:
        return ParsedField((clean_text(cell),), False, "not valid JSON (nested too deeply to read)")
    if not isinstance(value, list) or not value:
        kind = "an empty list" if value == [] else f"JSON {type(value).__name__}, not a list"
        return ParsedField((clean_text(cell),), False, kind)
    turns = []
    problem = None
    for entry in value:
        if entry is None:
            turns.append("")
        elif isinstance(entry, str):
            turns.append(clean_text(entry))
        else:
            problem = f"a turn is JSON {type(entry).__name__}, kept as its JSON text"
            turns.append(json.dumps(entry, ensure_ascii=False))
    return ParsedField(tuple(turns), all(entry is None for entry in value), problem)


def join_turns(turns: tuple[str, ...]) -> str:
    """The whole conversation side as one text (what length features and plots look at)."""
    return TURN_SEPARATOR.join(turns)
