"""Reading one extra-data file into parsed rows: the competition's format or a plain pairwise one.

Two formats, told apart by the text cells, in CSV (.csv) or JSON Lines (.jsonl, .json: one JSON
object per line):

- competition: like train.csv, the prompt and responses are JSON lists of turns ("[\"Hi\"]"; in
  JSONL a real list works too). Winner columns (winner_model_a, winner_model_b, winner_tie) are
  optional: with them each row is labelled, without them unlabelled. id, model_a and model_b are
  optional and kept (as source_id, model_a, model_b). The public lmsys-arena 33k and 55k sets are
  in this format.
- pairwise: prompt, response_a, response_b as plain text (one turn each), and an optional label
  column: A / model_a / 0 = response A preferred, B / model_b / 1 = response B preferred,
  tie / tie (bothbad) / 2 = tie (any case, blanks around ignored); an empty label = unlabelled.

A file is in the competition format when most of its prompt cells are JSON lists; a cell there
that is not one is kept as raw text and listed as an issue, as the competition loader does. A row
whose label cannot be read is a bad row: it is left out and listed (file, row, id, problem), never
dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.errors import ArenaDataError
from arenakit.core.schema import CLASS_COLUMNS, TEXT_COLUMNS, UNLABELLED
from arenakit.data.competition import NULL_FLAG_COLUMNS, TURN_COLUMNS, ParseIssue, parse_frame
from arenakit.data.csv_reading import read_csv_cells
from arenakit.data.text import clean_text, join_turns

COMPETITION_FORMAT = "competition"
PAIRWISE_FORMAT = "pairwise"
LABEL_COLUMN = "label"
# A pairwise file's label cell, lower-cased and stripped, to the class index.
LABEL_VALUES = {
    "a": 0,
    "model_a": 0,
    "0": 0,
    "b": 1,
    "model_b": 1,
    "1": 1,
    "tie": 2,
    "tie (bothbad)": 2,
    "2": 2,
    "": UNLABELLED,
}
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json")


@dataclass
class ExtraFile:
    """One file's rows, parsed: the usable rows, the bad rows left out, the repaired cells."""

    frame: pd.DataFrame  # parsed rows as the competition loader gives them, plus source_row and source_id
    format: str
    bad_rows: pd.DataFrame  # file, row, id, problem
    issues: list[ParseIssue]


def _read_cells(path: Path) -> tuple[pd.DataFrame, list[ParseIssue]]:
    """Every cell as a string (a JSON list written back as JSON text), and cells with damaged bytes."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        frame, damaged = read_csv_cells(path)
        issues = [ParseIssue(path.name, int(cell.row) + 1, cell.column, cell.problem) for cell in damaged]
        return frame, issues
    if suffix in JSONL_SUFFIXES:
        try:
            frame = pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
        except ValueError as error:
            raise ArenaDataError(
                f"{path}: not readable as JSON Lines (one JSON object per line): {error}. Fix the file, or "
                "save it as CSV"
            ) from None

        def as_text(value) -> str:
            if isinstance(value, (list, tuple, np.ndarray)):
                return json.dumps(list(value), ensure_ascii=False)
            return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)

        return frame.map(as_text), []
    raise ArenaDataError(
        f"{path}: extra data is read from {', '.join(CSV_SUFFIXES + JSONL_SUFFIXES)} files, not {suffix or 'a file without suffix'!r}. "
        "Save it as CSV (or JSON Lines) with the columns prompt, response_a, response_b"
    )


def _is_json_list_format(prompts: pd.Series) -> bool:
    looks_like_list = prompts.fillna("").str.strip().str.startswith("[")
    return bool(looks_like_list.mean() > 0.5)


def _plain_turns(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, list[ParseIssue]]:
    """Plain text cells as one cleaned turn each, in the columns the competition loader makes; empty cells listed."""
    parsed = frame.copy()
    issues = []
    for column in TEXT_COLUMNS:
        texts = [clean_text(cell) if isinstance(cell, str) else "" for cell in frame[column]]
        issues += [
            ParseIssue(path.name, int(row), column, "empty cell")
            for row, text in zip(frame["id"], texts)
            if not text.strip()
        ]
        parsed[TURN_COLUMNS[column]] = pd.Series([(text,) for text in texts], index=frame.index, dtype=object)
        parsed[column] = [join_turns((text,)) for text in texts]
        if column in NULL_FLAG_COLUMNS:
            parsed[NULL_FLAG_COLUMNS[column]] = np.array([not text.strip() for text in texts], dtype=bool)
    parsed["n_turns"] = np.ones(len(parsed), dtype="int16")
    return parsed, issues


def _winner_labels(frame: pd.DataFrame) -> tuple[np.ndarray, list[str | None]]:
    """Labels from the winner columns; all three empty = unlabelled; the problem of each bad row."""
    cells = frame[list(CLASS_COLUMNS)].fillna("").astype(str).apply(lambda column: column.str.strip())
    numbers = cells.apply(lambda column: pd.to_numeric(column, errors="coerce")).to_numpy()
    unlabelled = (cells == "").to_numpy().all(axis=1)
    binary = np.isin(numbers, (0, 1)).all(axis=1)
    one_winner = binary & (np.nan_to_num(numbers).sum(axis=1) == 1)
    labels = np.where(one_winner, np.nan_to_num(numbers).argmax(axis=1), UNLABELLED).astype(np.int8)
    problems: list[str | None] = [None] * len(frame)
    for row in np.flatnonzero(~unlabelled & ~one_winner):
        if binary[row]:
            problems[row] = f"{int(numbers[row].sum())} winner columns set to 1; exactly one is needed"
        else:
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(CLASS_COLUMNS, cells.iloc[row]))
            problems[row] = f"winner columns must hold 0 or 1 (or all three be empty: unlabelled); found {shown}"
    return labels, problems


def _label_column(frame: pd.DataFrame) -> tuple[np.ndarray, list[str | None]]:
    """Labels from a pairwise file's label column (LABEL_VALUES); the problem of each bad row."""
    cells = frame[LABEL_COLUMN].fillna("").astype(str).str.strip().str.lower()
    labels = np.full(len(frame), UNLABELLED, dtype=np.int8)
    problems: list[str | None] = [None] * len(frame)
    for row, cell in enumerate(cells):
        if cell in LABEL_VALUES:
            labels[row] = LABEL_VALUES[cell]
        else:
            problems[row] = (
                f"label {frame[LABEL_COLUMN].iloc[row]!r} is not one of A, B, tie (or a, b, model_a, model_b, "
                "tie (bothbad), 0, 1, 2; empty = unlabelled)"
            )
    return labels, problems


def read_extra_file(path: Path | str) -> ExtraFile:
    """One extra-data file, parsed; rows whose label cannot be read are left out and listed."""
    path = Path(path)
    if not path.is_file():
        raise ArenaDataError(f"{path}: no such extra-data file; check the path given as extra_data / --extra-data")
    raw, issues = _read_cells(path)
    missing = [column for column in TEXT_COLUMNS if column not in raw.columns]
    if missing:
        raise ArenaDataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, raw.columns))}. Extra data "
            "needs prompt, response_a, response_b (and optionally winner_model_a/_b/winner_tie, or label)"
        )
    if raw.empty:
        raise ArenaDataError(f"{path}: the header is there but no data row follows")
    has_winners = [column in raw.columns for column in CLASS_COLUMNS]
    if any(has_winners) and not all(has_winners):
        raise ArenaDataError(
            f"{path}: has {', '.join(c for c, h in zip(CLASS_COLUMNS, has_winners) if h)} but not "
            f"{', '.join(c for c, h in zip(CLASS_COLUMNS, has_winners) if not h)}: give all three winner columns or none"
        )
    if all(has_winners) and LABEL_COLUMN in raw.columns:
        raise ArenaDataError(
            f"{path}: has both winner columns and a label column; keep one of them, so each row's label is unambiguous"
        )
    raw = raw.reset_index(drop=True)
    source_rows = np.arange(1, len(raw) + 1)
    source_ids = raw["id"].fillna("").astype(str).str.strip() if "id" in raw.columns else pd.Series([""] * len(raw))
    if all(has_winners):
        labels, problems = _winner_labels(raw)
    elif LABEL_COLUMN in raw.columns:
        labels, problems = _label_column(raw)
    else:
        labels, problems = np.full(len(raw), UNLABELLED, dtype=np.int8), [None] * len(raw)

    file_format = COMPETITION_FORMAT if _is_json_list_format(raw["prompt"]) else PAIRWISE_FORMAT
    text = raw[list(TEXT_COLUMNS)].copy()
    text.insert(0, "id", source_rows)  # parse_frame names rows by id: here the row of the file
    if file_format == COMPETITION_FORMAT:
        parsed, parse_issues = parse_frame(text, path)
        issues += parse_issues
    else:
        parsed, plain_issues = _plain_turns(text, path)
        issues += plain_issues
    frame = parsed.drop(columns="id")
    for column in ("model_a", "model_b"):
        frame[column] = raw[column].fillna("").astype(str) if column in raw.columns else ""
    for index, column in enumerate(CLASS_COLUMNS):
        frame[column] = (labels == index).astype("int8")
    frame["label"] = labels
    frame["source_row"] = source_rows
    frame["source_id"] = source_ids.to_numpy()
    bad = np.array([problem is not None for problem in problems], dtype=bool)
    bad_rows = pd.DataFrame(
        {
            "file": path.name,
            "row": source_rows[bad],
            "id": source_ids.to_numpy()[bad],
            "problem": [problem for problem in problems if problem is not None],
        }
    )
    return ExtraFile(frame[~bad].reset_index(drop=True), file_format, bad_rows, issues)
