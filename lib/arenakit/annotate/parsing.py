"""Reading a judge's answer: the JSON object (bare, fenced or wrapped in prose), its ratings, refusals, the repair request.

    parsed = parse_answer(text, taxonomy)   # Parsed(ratings={name: int or None}, reasons, complete)
    looks_like_refusal(text)                # no JSON object and the words of a refusal

An answer is complete when every property has a value of its kind (0-3, or 0/1; "yes"/"no",
true/false and "2" are read too). The JSON is parsed with json, never evaluated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from arenakit.data.taxonomy import Taxonomy

_REFUSAL = re.compile(
    r"\b(I can(?:'|’)?t|I cannot|I can not|I won(?:'|’)t|I will not|I(?:'|’)m (?:sorry|unable|not able)|"
    r"I am (?:sorry|unable|not able)|as an AI|against (?:my|the) (?:guidelines|policy|policies))\b",
    re.IGNORECASE,
)
_YES_NO_WORDS = {"yes": 1, "no": 0, "true": 1, "false": 0}


@dataclass(frozen=True)
class Parsed:
    ratings: dict  # property -> int, or None where the answer gave no valid value
    reasons: dict  # property -> str, where given
    found_json: bool

    @property
    def complete(self) -> bool:
        return self.found_json and all(value is not None for value in self.ratings.values())


def _json_objects(text: str):
    """Every JSON object in the text, outermost first, found by trying json's decoder at each "{"."""
    decoder = json.JSONDecoder()
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            yield value
        position = text.find("{", end)


def _value(raw, allowed: tuple[int, ...]) -> int | None:
    if isinstance(raw, dict):
        raw = raw.get("rating", raw.get("score", raw.get("value")))
    if isinstance(raw, bool):
        raw = int(raw)
    elif isinstance(raw, str):
        word = raw.strip().lower()
        raw = _YES_NO_WORDS.get(word, word)
        try:
            raw = int(raw)
        except ValueError:
            return None
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return raw if isinstance(raw, int) and raw in allowed else None


def _reason(raw) -> str | None:
    reason = raw.get("reason") if isinstance(raw, dict) else None
    return reason if isinstance(reason, str) else None


def parse_answer(text: str, taxonomy: Taxonomy) -> Parsed:
    """The ratings of the JSON object in the text that names the most properties (a model may echo the template)."""
    best, best_count = None, -1
    for candidate in _json_objects(text or ""):
        # Some judges nest the answer one level down ({"ratings": {...}}).
        for obj in (candidate, *[v for v in candidate.values() if isinstance(v, dict)]):
            count = sum(name in obj for name in taxonomy.names)
            if count > best_count:
                best, best_count = obj, count
    if best is None or best_count == 0:
        return Parsed({name: None for name in taxonomy.names}, {}, False)
    ratings = {p.name: _value(best.get(p.name), p.values) for p in taxonomy.properties}
    reasons = {name: r for name in taxonomy.names if (r := _reason(best.get(name))) is not None}
    return Parsed(ratings, reasons, True)


def looks_like_refusal(text: str) -> bool:
    """A refusal: no JSON object at all, and the words of one."""
    return "{" not in (text or "") and bool(_REFUSAL.search(text or ""))


def repair_message(parsed: Parsed, taxonomy: Taxonomy) -> str:
    """The one follow-up an answer that did not parse gets: what was wrong and the exact form wanted."""
    if not parsed.found_json:
        problem = "Your reply contained no JSON object with the properties."
    else:
        bad = [name for name, value in parsed.ratings.items() if value is None]
        problem = f"Your reply lacked a valid rating for: {', '.join(bad)}."
    return (
        f"{problem} Reply again with only the JSON object: every one of the {len(taxonomy.names)} properties "
        '({"reason": "...", "rating": N}), ratings 0-3 for rated properties and 0 or 1 for yes/no ones. No other text.'
    )
