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

Every error names the file, the row (its id, or its position below the header) and what to do; no
row is ever dropped. Cells that had to be repaired are listed in Competition.issues_frame().
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.errors import MAX_EXAMPLES, ArenaDataError, counted, examples, join_present
from arenakit.core.schema import (
    CLASS_COLUMNS,
    SAMPLE_SUBMISSION_FILE,
    SUBMISSION_COLUMNS,
    TEST_COLUMNS,
    TEST_FILE,
    TEXT_COLUMNS,
    TRAIN_COLUMNS,
    TRAIN_FILE,
)
from arenakit.core.swap import swap_labels
from arenakit.data.csv_reading import read_csv_cells
from arenakit.data.text import join_turns, parse_turns

TURN_COLUMNS = {"prompt": "prompt_turns", "response_a": "response_turns_a", "response_b": "response_turns_b"}
NULL_FLAG_COLUMNS = {"response_a": "null_response_a", "response_b": "null_response_b"}


@dataclass(frozen=True)
class ParseIssue:
    """A cell the loader had to repair (or keep as raw text); its row is kept."""

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
        """One row per repaired cell and problem: file, row_id, column, problem."""
        return pd.DataFrame([vars(issue) for issue in self.issues], columns=["file", "row_id", "column", "problem"])


# An id is an integer written in ASCII digits. Blanks around it, a "+", leading zeros or a ".0"
# fraction (a column that went through floats) are read and listed as issues. An exponent
# ("1.4e+05", often a spreadsheet's rounding of a long id) or a true fraction is refused: digits
# may have been lost. Other scripts' digits (which int() would read) are refused too.
_ID_PATTERN = re.compile(r"[ \t]*([+-]?[0-9]+)(?:\.0*)?[ \t]*")
_INT64 = np.iinfo(np.int64)


def _rows(positions) -> str:
    """Row positions as an error message names them: counted from 1 below the header."""
    return f"row(s) {examples(np.asarray(positions) + 1)} below the header"


def parse_ids(cells: pd.Series, path: Path) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The ids as int64, and (row position, what was read) for each id not written plainly."""
    ids = np.zeros(len(cells), dtype=np.int64)
    not_integer, too_large, rewritten = [], [], []
    for row, cell in enumerate(cells):
        match = _ID_PATTERN.fullmatch(cell) if isinstance(cell, str) else None
        if match is None:
            not_integer.append(row)
            continue
        value = int(match.group(1))
        if not _INT64.min <= value <= _INT64.max:
            too_large.append(row)
            continue
        ids[row] = value
        if cell != str(value):
            rewritten.append((row, f"id written as {cell!r}, read as {value}"))
    if not_integer:
        raise ArenaDataError(
            f"{path}: id is not an integer in {_rows(not_integer)} "
            f"(value(s) {examples(cells.iloc[not_integer].map(repr))}). Every row needs an integer id written "
            "in digits (e.g. 136060); an exponent or a fraction is refused because digits may have been lost "
            "(a spreadsheet rounds long ids to 1.4E+05). Fix those cells."
        )
    if too_large:
        raise ArenaDataError(
            f"{path}: id too large for a 64-bit integer in {_rows(too_large)} "
            f"(value(s) {examples(cells.iloc[too_large].map(repr))}); ids must lie within {_INT64.min}..{_INT64.max}. "
            "Check that the id column holds the ids. Fix those cells."
        )
    return ids, rewritten


def read_table(path: Path | str, columns: tuple[str, ...]) -> tuple[pd.DataFrame, list[ParseIssue]]:
    """Read a competition CSV as text, check its columns, rows and ids; return it and what was repaired.

    Every cell stays a string except id (int64); damaged bytes and ids not written plainly are
    listed as issues, their rows kept.
    """
    path = Path(path)
    if not path.is_file():
        raise ArenaDataError(
            f"{path}: file not found. Download the competition data "
            "(kaggle competitions download -c llm-classification-finetuning) and unzip it there, "
            "or pass the folder that holds it."
        )
    frame, damaged = read_csv_cells(path)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ArenaDataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}. "
            f"This file needs the columns {', '.join(columns)}."
        )
    if frame.empty:
        raise ArenaDataError(
            f"{path}: line 1 is the header and no data row follows. Re-download the file "
            "(kaggle competitions download -c llm-classification-finetuning) or restore its rows."
        )
    ids, rewritten = parse_ids(frame["id"], path)
    frame["id"] = ids
    repeated = np.flatnonzero(frame["id"].duplicated().to_numpy())
    if len(repeated):
        duplicated = frame["id"].iloc[repeated].unique()
        raise ArenaDataError(
            f"{path}: {len(duplicated)} duplicate id(s): {examples(duplicated)} (repeated in {_rows(repeated)}). "
            "Ids must be unique; remove the repeated rows or give them their own ids."
        )
    issues = [ParseIssue(path.name, int(ids[cell.row]), cell.column, cell.problem) for cell in damaged]
    issues += [ParseIssue(path.name, int(ids[row]), "id", problem) for row, problem in rewritten]
    return frame, issues


def labels_from_winners(frame: pd.DataFrame, path: Path | str) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's label (index of its winner column) and the winner columns as int8; one winner per row.

    A winner cell is any number equal to 0 or 1: "1.0" and "0.0" (a file that went through floats) are 1 and 0.
    """
    cells = frame[list(CLASS_COLUMNS)]
    winners = cells.apply(pd.to_numeric, errors="coerce")
    bad_cells = ~winners.isin([0, 1])
    not_binary = bad_cells.any(axis=1)
    if not_binary.any():
        raise ArenaDataError(
            f"{path}: winner columns must hold 0 or 1; row id(s) {examples(frame['id'][not_binary])} "
            f"hold something else (value(s) {examples(map(repr, cells.to_numpy()[bad_cells.to_numpy()]))}). Fix those cells."
        )
    counts = winners.sum(axis=1)
    for wrong, what in ((counts == 0, "no winner"), (counts > 1, "several winners")):
        if wrong.any():
            raise ArenaDataError(
                f"{path}: {int(wrong.sum())} row(s) with {what}: id(s) {examples(frame['id'][wrong])}. "
                f"Each row needs exactly one of {', '.join(CLASS_COLUMNS)} set to 1; fix or remove those rows."
            )
    return winners.to_numpy().argmax(axis=1).astype("int8"), winners.astype("int8")


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
    raw, issues = read_table(path, TRAIN_COLUMNS)
    labels, winners = labels_from_winners(raw, path)
    frame, parse_issues = parse_frame(raw, path)
    for column in CLASS_COLUMNS:
        frame[column] = winners[column]
    frame["label"] = labels
    return frame, issues + parse_issues


def load_test(path: Path | str) -> tuple[pd.DataFrame, list[ParseIssue]]:
    raw, issues = read_table(path, TEST_COLUMNS)
    frame, parse_issues = parse_frame(raw, path)
    return frame, issues + parse_issues


def load_sample_submission(path: Path | str, test_ids: np.ndarray) -> tuple[pd.DataFrame, list[ParseIssue]]:
    """sample_submission.csv, checked against test.csv: it fixes the submission's row order."""
    frame, issues = read_table(path, SUBMISSION_COLUMNS)
    missing = np.setdiff1d(test_ids, frame["id"])
    extra = np.setdiff1d(frame["id"], test_ids)
    if len(missing) or len(extra):
        differences = join_present(counted(missing, "test id(s) missing"), counted(extra, "id(s) not in test.csv"))
        raise ArenaDataError(
            f"{path}: ids differ from test.csv ({differences}). Use the two files of the same download."
        )
    for column in CLASS_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame, issues


def load_competition(data_dir: Path | str, warn: bool = True) -> Competition:
    """Load train.csv, test.csv and sample_submission.csv from a competition folder."""
    data_dir = Path(data_dir)
    train, train_issues = load_train(data_dir / TRAIN_FILE)
    test, test_issues = load_test(data_dir / TEST_FILE)
    sample, sample_issues = load_sample_submission(data_dir / SAMPLE_SUBMISSION_FILE, test["id"].to_numpy())
    competition = Competition(data_dir, train, test, sample, train_issues + test_issues + sample_issues)
    if warn and competition.issues:
        n_cells = len({(issue.file, issue.row_id, issue.column) for issue in competition.issues})
        shown = "; ".join(f"{i.file} id {i.row_id} {i.column}: {i.problem}" for i in competition.issues[:MAX_EXAMPLES])
        warnings.warn(
            f"{n_cells} cell(s) were repaired or kept as raw text ({shown}). "
            "Competition.issues_frame() lists them all.",
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
