"""The data layer: competition CSVs in, parsed and cleaned frames out.

    comp = load_competition("data/")      # train, test, sample_submission, issues
    comp.train.label                      # 0 = A preferred, 1 = B, 2 = tie
    swap_ab(comp.train)                   # A and B exchanged, labels 0 and 1 exchanged

A parsed frame keeps the competition's columns and adds:
  prompt, response_a, response_b      the cleaned text, turns joined by a blank line
  prompt_turns, response_turns_a/_b   the cleaned turns (tuples of str; null turns are "")
  n_turns                             number of prompt turns
  null_response_a/_b                  every turn of that response was null (e.g. "[null]")
  label                               train only: index into CLASS_COLUMNS

Every error names the file, the row ids and what to do; no row is ever dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.errors import MAX_EXAMPLES, ArenaDataError, examples
from arenakit.schema import (
    CLASS_COLUMNS,
    SAMPLE_SUBMISSION_FILE,
    SUBMISSION_COLUMNS,
    TEST_COLUMNS,
    TEST_FILE,
    TEXT_COLUMNS,
    TRAIN_COLUMNS,
    TRAIN_FILE,
)
from arenakit.swap import swap_labels
from arenakit.text import join_turns, parse_turns

TURN_COLUMNS = {"prompt": "prompt_turns", "response_a": "response_turns_a", "response_b": "response_turns_b"}
NULL_FLAG_COLUMNS = {"response_a": "null_response_a", "response_b": "null_response_b"}


@dataclass(frozen=True)
class ParseIssue:
    """A cell that was not a clean JSON list of strings and was kept as raw text."""

    file: str
    row_id: int
    column: str
    problem: str


@dataclass
class Competition:
    """The three competition files, parsed, plus what parsing had to repair."""

    data_dir: Path
    train: pd.DataFrame
    test: pd.DataFrame
    sample_submission: pd.DataFrame
    issues: list[ParseIssue] = field(default_factory=list)

    def issues_frame(self) -> pd.DataFrame:
        return pd.DataFrame([vars(issue) for issue in self.issues], columns=["file", "row_id", "column", "problem"])


def read_table(path: Path | str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a competition CSV as text, check its columns and ids, and return it unchanged otherwise.

    Every cell is read as a string: pandas' own guessing would turn "null" or "None" into NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise ArenaDataError(
            f"{path}: file not found. Download the competition data "
            "(kaggle competitions download -c llm-classification-finetuning) and unzip it there, "
            "or pass the folder that holds it."
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ArenaDataError(f"{path}: not a readable CSV file ({error}). Re-download or repair it.") from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ArenaDataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}. "
            f"This file needs the columns {', '.join(columns)}."
        )
    ids = pd.to_numeric(frame["id"], errors="coerce")
    bad = frame.index[ids.isna() | (ids != np.round(ids))]
    if len(bad):
        raise ArenaDataError(
            f"{path}: id is not an integer on line(s) {examples(bad + 2)} "
            f"(values {examples(frame['id'][bad].map(repr))}). Every row needs an integer id."
        )
    frame["id"] = ids.astype("int64")
    duplicated = frame["id"][frame["id"].duplicated()].unique()
    if len(duplicated):
        raise ArenaDataError(
            f"{path}: {len(duplicated)} duplicate id(s): {examples(duplicated)}. "
            "Ids must be unique; remove the repeated rows or give them their own ids."
        )
    return frame


def labels_from_winners(frame: pd.DataFrame, path: Path | str) -> np.ndarray:
    """The label of each row (index of its winner column); exactly one winner per row."""
    winners = frame[list(CLASS_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    not_binary = ~winners.isin([0, 1]).all(axis=1)
    if not_binary.any():
        raise ArenaDataError(
            f"{path}: winner columns must hold 0 or 1; row id(s) {examples(frame['id'][not_binary])} "
            "hold something else. Fix those cells."
        )
    counts = winners.sum(axis=1)
    for wrong, what in ((counts == 0, "no winner"), (counts > 1, "several winners")):
        if wrong.any():
            raise ArenaDataError(
                f"{path}: {int(wrong.sum())} row(s) with {what}: id(s) {examples(frame['id'][wrong])}. "
                f"Each row needs exactly one of {', '.join(CLASS_COLUMNS)} set to 1; fix or remove those rows."
            )
    return winners.to_numpy().argmax(axis=1).astype("int8")


def parse_frame(raw: pd.DataFrame, path: Path | str) -> tuple[pd.DataFrame, list[ParseIssue]]:
    """Parse the three JSON-list columns of a raw competition frame into cleaned turns and text."""
    frame = raw.copy()
    issues = []
    file_name = Path(path).name
    ids = frame["id"].to_numpy()
    for column in TEXT_COLUMNS:
        parsed = [parse_turns(cell) for cell in frame[column]]
        turns = [field.turns for field in parsed]
        frame[TURN_COLUMNS[column]] = pd.Series(turns, index=frame.index, dtype=object)
        frame[column] = [join_turns(field_turns) for field_turns in turns]
        if column in NULL_FLAG_COLUMNS:
            frame[NULL_FLAG_COLUMNS[column]] = np.fromiter((field.all_null for field in parsed), bool, len(parsed))
        issues.extend(
            ParseIssue(file_name, int(row_id), column, field.problem)
            for row_id, field in zip(ids, parsed)
            if field.problem
        )
    frame["n_turns"] = frame["prompt_turns"].map(len).astype("int16")
    return frame, issues


def load_train(path: Path | str) -> tuple[pd.DataFrame, list[ParseIssue]]:
    raw = read_table(path, TRAIN_COLUMNS)
    labels = labels_from_winners(raw, path)
    frame, issues = parse_frame(raw, path)
    for column in CLASS_COLUMNS:
        frame[column] = frame[column].astype("int8")
    frame["label"] = labels
    return frame, issues


def load_test(path: Path | str) -> tuple[pd.DataFrame, list[ParseIssue]]:
    return parse_frame(read_table(path, TEST_COLUMNS), path)


def load_sample_submission(path: Path | str, test_ids: np.ndarray) -> pd.DataFrame:
    """sample_submission.csv, checked against test.csv: it fixes the submission's row order."""
    frame = read_table(path, SUBMISSION_COLUMNS)
    missing = np.setdiff1d(test_ids, frame["id"])
    extra = np.setdiff1d(frame["id"], test_ids)
    if len(missing) or len(extra):
        raise ArenaDataError(
            f"{path}: ids differ from test.csv ({len(missing)} test id(s) missing, e.g. {examples(missing)}; "
            f"{len(extra)} not in test.csv, e.g. {examples(extra)}). Use the two files of the same download."
        )
    for column in CLASS_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def load_competition(data_dir: Path | str, warn: bool = True) -> Competition:
    """Load train.csv, test.csv and sample_submission.csv from a competition folder."""
    data_dir = Path(data_dir)
    train, train_issues = load_train(data_dir / TRAIN_FILE)
    test, test_issues = load_test(data_dir / TEST_FILE)
    sample = load_sample_submission(data_dir / SAMPLE_SUBMISSION_FILE, test["id"].to_numpy())
    competition = Competition(data_dir, train, test, sample, train_issues + test_issues)
    if warn and competition.issues:
        shown = "; ".join(f"{i.file} id {i.row_id} {i.column}: {i.problem}" for i in competition.issues[:MAX_EXAMPLES])
        warnings.warn(
            f"{len(competition.issues)} cell(s) were not clean JSON lists and were kept as raw text "
            f"({shown}). Competition.issues_frame() lists them all.",
            stacklevel=2,
        )
    return competition


def swap_ab(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows with responses A and B exchanged: texts, model names, flags and labels.

    Every column pair named <x>_a / <x>_b is exchanged (model_a/model_b, response_turns_a/_b,
    null_response_a/_b, winner_model_a/_b, feature columns); the label's 0 and 1 trade places.
    """
    renames = {}
    for column in frame.columns:
        partner = column[:-2] + "_b"
        if column.endswith("_a") and partner in frame.columns:
            renames[column], renames[partner] = partner, column
    swapped = frame.rename(columns=renames)[list(frame.columns)]
    if "label" in swapped.columns:
        swapped["label"] = swap_labels(swapped["label"].to_numpy())
    return swapped
