"""Extra training data (issue 22): more preference pairs, labelled or not, checked, de-duplicated, weighted.

    extra, report = read_extra_data(["lmsys-33k.csv", "pairs.jsonl"], comp.train, comp.test, weights={"pairs": 0.5})
    print(report)                      # per source: rows read, bad, duplicates dropped, labelled, weight
    report.to_dict()                   # JSON-able, for metrics.json
    extra_rows_for_fold(extra, comp.train, folds, k)   # the extra rows student fold k may train on

File formats (competition-like or plain pairwise, CSV or JSON Lines): arenakit.data.extra_formats.

The frame has the columns of load_competition's train frame (id, model_a, model_b, the texts, the
winner columns, turns, null flags, n_turns, label), so models and swap_ab take it, with
label = UNLABELLED (-1) for a row without one, plus:
  source         the file's stem (its name when two files share a stem)
  row_weight     the source's weight (default 1.0)
  source_row     the row in its file (from 1, below a CSV's header)
  source_id      the file's own id for the row ("" when it has none)
  prompt_key     the normalised prompt's hash (which train prompts the row shares)

Ids: an extra row's id is a negative int64 made from a hash of its normalised prompt and responses
in their order, so it never collides with the competition's (positive) ids, and stays the same
whatever the file's name or row order: a teacher file written for these rows matches them on a
later read. A collision with a train or test id is refused.

De-duplication: two rows are the same pair when their prompts and their two responses are equal
after normalising (Unicode NFKC, case folded, every whitespace run as one space, ends stripped) with
the responses taken as a set, so a row whose A and B are swapped is a duplicate too. Extra rows
that duplicate a train row or a test row are dropped, and within the extra data the first is kept
(labelled rows before unlabelled ones, then file order); the report counts each per source.

Extra rows whose prompt is also a train prompt are kept, but not for every fold: the run's folds
group rows by prompt so a validation prompt is never seen in training, and such an extra row would
carry fold k's prompt into fold k's training. extra_rows_for_fold leaves out, for fold k, every extra
row whose normalised prompt is the prompt of a train row of fold k (shared_prompts="drop" drops them
all instead).
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.errors import MAX_EXAMPLES, ArenaDataError, examples
from arenakit.core.schema import UNLABELLED, WEIGHT_COLUMN
from arenakit.data.competition import ParseIssue
from arenakit.data.extra_formats import read_extra_file

SHARED_PROMPT_CHOICES = ("fold", "drop")
DEDUP_RULE = (
    "prompt and both responses equal after NFKC, case folding and collapsing whitespace, "
    "responses taken as a set (an A/B swap is a duplicate)"
)


def normalise(text: str) -> str:
    """The form two texts are compared in: NFKC, case folded, every whitespace run one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _digest(*parts: str) -> bytes:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()


def normalised_texts(frame: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """The prompts and both responses of every row, normalised (computed once, used for every key)."""
    return tuple([normalise(text) for text in frame[column]] for column in ("prompt", "response_a", "response_b"))


def prompt_keys(frame: pd.DataFrame, texts=None) -> np.ndarray:
    """A hash of each row's normalised prompt (hex)."""
    prompts = texts[0] if texts else [normalise(text) for text in frame["prompt"]]
    return np.array([_digest(prompt).hex() for prompt in prompts], dtype=object)


def pair_keys(frame: pd.DataFrame, texts=None) -> np.ndarray:
    """A hash of each row's normalised prompt and its two responses taken as a set (A/B order ignored)."""
    keys = []
    for prompt, a, b in zip(*(texts or normalised_texts(frame))):
        keys.append(_digest(prompt, *sorted((a, b))).hex())
    return np.array(keys, dtype=object)


def extra_ids(frame: pd.DataFrame, texts=None) -> np.ndarray:
    """Each row's id: a negative int64 from its normalised prompt and responses in their order (see above)."""
    ids = np.empty(len(frame), dtype=np.int64)
    for row, (prompt, a, b) in enumerate(zip(*(texts or normalised_texts(frame)))):
        ids[row] = -(int.from_bytes(_digest("extra", prompt, a, b), "big") >> 1) - 1
    return ids


@dataclass
class ExtraDataReport:
    """What reading the extra data did, per source; print it in a notebook, to_dict() for metrics.json."""

    sources: pd.DataFrame  # one row per source: file, format, rows_read, bad_rows, duplicates, kept, labels, weight
    bad_rows: pd.DataFrame  # every row left out for a bad label: file, row, id, problem
    issues: list[ParseIssue] = field(default_factory=list)  # repaired cells (row_id: the row of the file)
    shared_prompts: str = "fold"

    def issues_frame(self) -> pd.DataFrame:
        return pd.DataFrame([vars(issue) for issue in self.issues], columns=["file", "row_id", "column", "problem"])

    def to_dict(self) -> dict:
        totals = self.sources.drop(columns=["source", "file", "format", "weight"]).sum().astype(int).to_dict()
        return {
            "sources": self.sources.to_dict(orient="records"),
            "total": totals,
            "repaired_cells": len(self.issues),
            "dedup_rule": DEDUP_RULE,
            "shared_prompts": self.shared_prompts,
        }

    def __str__(self) -> str:
        lines = [f"extra data: {int(self.sources['kept'].sum())} rows kept from {len(self.sources)} source(s)"]
        lines.append(self.sources.to_string(index=False))
        if len(self.bad_rows):
            lines.append(f"{len(self.bad_rows)} bad row(s) left out (report.bad_rows lists them all):")
            lines.append(self.bad_rows.head(MAX_EXAMPLES).to_string(index=False))
        if self.issues:
            lines.append(f"{len(self.issues)} cell(s) repaired or kept as raw text (report.issues_frame())")
        lines.append(f"duplicates: {DEDUP_RULE}")
        return "\n".join(lines)


def _source_names(paths: list[Path]) -> list[str]:
    stems = [path.stem for path in paths]
    names = [path.stem if stems.count(path.stem) == 1 else path.name for path in paths]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ArenaDataError(
            f"extra data: {', '.join(repeated)} given more than once ({', '.join(map(str, paths))}); "
            "each source is named by its file, so give each file once (or rename one)"
        )
    return names


def _check_weights(weights: dict | None, names: list[str]) -> dict[str, float]:
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ArenaDataError(
            f"extra data weights name {', '.join(map(repr, unknown))}, which is not a source; the sources "
            f"are {', '.join(map(repr, names))} (each file's stem)"
        )
    checked = {}
    for name in names:
        value = weights.get(name, 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ArenaDataError(
                f"extra data weight of {name!r} is {value!r}; a weight is a number above 0 "
                "(1.0 = as much as a train row); leave a source out to give it none"
            )
        checked[name] = float(value)
    return checked


def read_extra_data(
    paths, train: pd.DataFrame, test: pd.DataFrame | None, weights: dict | None = None, shared_prompts: str = "fold"
) -> tuple[pd.DataFrame, ExtraDataReport]:
    """Read, check, de-duplicate and weight one or more extra-data files (module docstring)."""
    if shared_prompts not in SHARED_PROMPT_CHOICES:
        raise ValueError(f"shared_prompts={shared_prompts!r}: choose one of {', '.join(SHARED_PROMPT_CHOICES)}")
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(path) for path in paths]
    if not paths:
        raise ArenaDataError("extra data: no file given")
    names = _source_names(paths)
    checked_weights = _check_weights(weights, names)
    train_keys = set(pair_keys(train))
    test_keys = set(pair_keys(test)) if test is not None else set()
    train_prompts = set(prompt_keys(train))

    parts, summaries, bad_parts, issues = [], [], [], []
    for order, (path, name) in enumerate(zip(paths, names)):
        read = read_extra_file(path)
        frame = read.frame
        frame["source"] = name
        frame[WEIGHT_COLUMN] = checked_weights[name]
        texts = normalised_texts(frame)
        frame["prompt_key"] = prompt_keys(frame, texts)
        frame["_pair_key"] = pair_keys(frame, texts)
        frame["_id"] = extra_ids(frame, texts)
        frame["_order"] = order
        parts.append(frame)
        bad_parts.append(read.bad_rows)
        issues += read.issues
        summaries.append(
            {
                "source": name,
                "file": path.name,
                "format": read.format,
                "rows_read": len(frame) + len(read.bad_rows),
                "bad_rows": len(read.bad_rows),
            }
        )
    every = pd.concat(parts, ignore_index=True)
    every["_unlabelled"] = every["label"] == UNLABELLED
    every = every.sort_values(["_unlabelled", "_order", "source_row"], kind="stable")
    of_train = every["_pair_key"].isin(train_keys).to_numpy()
    of_test = ~of_train & every["_pair_key"].isin(test_keys).to_numpy()
    within = ~of_train & ~of_test & every["_pair_key"].duplicated().to_numpy()
    shared = every["prompt_key"].isin(train_prompts).to_numpy()
    drop_shared = shared & (shared_prompts == "drop") & ~of_train & ~of_test & ~within
    keep = ~(of_train | of_test | within | drop_shared)
    for summary in summaries:
        mine = (every["source"] == summary["source"]).to_numpy()
        kept = keep & mine
        summary.update(
            {
                "duplicates_of_train": int((of_train & mine).sum()),
                "duplicates_of_test": int((of_test & mine).sum()),
                "duplicates_within": int((within & mine).sum()),
                "shared_train_prompt_dropped": int((drop_shared & mine).sum()),
                "kept": int(kept.sum()),
                "labelled": int((kept & ~every["_unlabelled"].to_numpy()).sum()),
                "unlabelled": int((kept & every["_unlabelled"].to_numpy()).sum()),
                "shares_train_prompt": int((kept & shared).sum()),
                "weight": checked_weights[summary["source"]],
            }
        )
    extra = every[keep].sort_values(["_order", "source_row"], kind="stable").reset_index(drop=True)
    extra = extra.drop(columns=["_pair_key", "_order", "_unlabelled"]).rename(columns={"_id": "id"})
    extra = extra[["id", *[column for column in extra.columns if column != "id"]]]
    _refuse_colliding_ids(extra, train, test)
    report = ExtraDataReport(
        pd.DataFrame(summaries), pd.concat(bad_parts, ignore_index=True), issues, shared_prompts=shared_prompts
    )
    if len(report.bad_rows):
        shown = "; ".join(f"{r.file} row {r.row}: {r.problem}" for r in report.bad_rows.head(MAX_EXAMPLES).itertuples())
        warnings.warn(
            f"extra data: {len(report.bad_rows)} row(s) left out because their label cannot be read ({shown}); "
            "report.bad_rows lists them all. Fix those cells to use the rows.",
            stacklevel=2,
        )
    return extra, report


def _refuse_colliding_ids(extra: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame | None) -> None:
    taken = set(train["id"]) | (set(test["id"]) if test is not None else set())
    clashes = extra["id"][extra["id"].isin(taken) | extra["id"].duplicated()]
    if len(clashes):  # a 64-bit hash hitting a competition id: never seen, but never silently merged either
        raise ArenaDataError(
            f"extra data: id(s) {examples(clashes)} made for extra rows are also train/test ids or "
            "another extra row's; rename the competition rows' ids or leave those extra rows out"
        )


def extra_rows_for_fold(extra: pd.DataFrame, train: pd.DataFrame, folds: np.ndarray, fold: int) -> np.ndarray:
    """Mask of the extra rows student fold `fold` may train on: all but those sharing a prompt of fold `fold`'s train rows."""
    held_out = set(prompt_keys(train[np.asarray(folds) == fold]))
    return ~extra["prompt_key"].isin(held_out).to_numpy()
