"""A teacher's predictions made elsewhere (a 70B teacher on rented GPUs), as one CSV file.

    teacher = read_teacher_file("teacher.csv")      # id, fold, winner_model_a, winner_model_b, winner_tie
    teacher_file_is_oof_only(teacher)                # True: one prediction per id (see below)
    write_teacher_file(teacher, "teacher.csv")       # atomic: a crash never leaves half a file

The format (what `python -m arenakit.train teacher-predictions` writes):

    id,fold,winner_model_a,winner_model_b,winner_tie
    30192,0,0.41,0.33,0.26
    30192,1,0.44,0.31,0.25
    ...

- id: a train row's id (or an extra row's, as arenakit.data.extra gives it), an integer.
- fold: which teacher fold model made the prediction (the run's fold number, from 0).
- the three probabilities, in the kit's class order, each in [0, 1], each row summing to 1.

"One set per fold" (the honest file): for each fold k, the fold-k teacher model's predictions on
every train row (and extra row), so that student fold k learns only from teacher fold k, which
never saw fold k's labels. An "OOF-only" file holds one prediction per id, from the fold that held
that row out (a teacher's oof.csv with its fold added): a student trained on it has seen its
validation rows' labels through the teacher, so its OOF score reads optimistic.

Files read are data: every bad row is listed (TeacherFileError.bad_rows: line, id, problem), the
message names the first ones by id and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.atomic import write_csv
from arenakit.core.errors import MAX_EXAMPLES, ArenaDataError
from arenakit.core.probabilities import probability_row_problems
from arenakit.core.schema import CLASS_COLUMNS

TEACHER_FILE_COLUMNS = ("id", "fold", *CLASS_COLUMNS)
_FIX = (
    "Write the file with `python -m arenakit.train teacher-predictions` or make it hold, per fold, the "
    "probabilities of that fold's teacher model (README: Teacher files)"
)


class TeacherFileError(ArenaDataError):
    """A teacher file that cannot be used; bad_rows lists every bad row: line (from 1, the header is 1), id, problem."""

    def __init__(self, message: str, bad_rows: pd.DataFrame | None = None):
        super().__init__(message)
        self.bad_rows = bad_rows if bad_rows is not None else pd.DataFrame(columns=["line", "id", "problem"])


def _read_cells(path: Path) -> pd.DataFrame:
    """The file's cells as strings."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise TeacherFileError(f"{path}: not a readable CSV file ({type(error).__name__}: {error}). {_FIX}") from None


def _integers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The cells as int64 and a mask of the cells that are not integers."""
    numbers = pd.to_numeric(cells.astype(str).str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round()) | (numbers.abs() >= 2**63)
    return numbers.where(~bad, 0).astype("int64").to_numpy(), bad.to_numpy().copy()


def read_teacher_file(path: Path | str) -> pd.DataFrame:
    """The teacher file, checked: columns id (int64), fold (int64) and CLASS_COLUMNS (float), in file order."""
    path = Path(path)
    if not path.is_file():
        raise TeacherFileError(f"{path}: no such teacher file. {_FIX}")
    cells = _read_cells(path)
    missing = [column for column in TEACHER_FILE_COLUMNS if column not in cells.columns]
    if missing:
        raise TeacherFileError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, cells.columns))}. "
            f"A teacher file has the columns {', '.join(TEACHER_FILE_COLUMNS)}. {_FIX}"
        )
    if cells.empty:
        raise TeacherFileError(f"{path}: the header is there but no prediction row follows. {_FIX}")
    ids, bad_id = _integers(cells["id"])
    folds, bad_fold = _integers(cells["fold"])
    bad_fold = bad_fold | (folds < 0)
    values = cells[list(CLASS_COLUMNS)].apply(lambda c: pd.to_numeric(c, errors="coerce")).to_numpy(dtype=float)
    blank = pd.isna(cells[list(CLASS_COLUMNS)]).to_numpy() | (cells[list(CLASS_COLUMNS)].astype(str) == "").to_numpy()
    problems: list[tuple[np.ndarray, str]] = [
        (bad_id, "id is not an integer"),
        (bad_fold, "fold is not a whole number from 0"),
        (blank.any(axis=1), "a probability is missing (empty or NaN)"),
    ]
    for bad, what in probability_row_problems(values):
        problems.append((bad & ~blank.any(axis=1), f"probabilities {what}"))
    keyed = ~bad_id & ~bad_fold
    repeated = keyed & pd.DataFrame({"id": ids, "fold": folds}).duplicated(keep=False).to_numpy()
    problems.append((repeated, "the same (id, fold) appears on several lines"))
    bad_rows = pd.DataFrame(
        [
            {"line": int(row) + 2, "id": cells["id"].iloc[row], "problem": what}
            for bad, what in problems
            for row in np.flatnonzero(bad)
        ],
        columns=["line", "id", "problem"],
    )
    if len(bad_rows):
        bad_rows = bad_rows.sort_values("line", kind="stable").reset_index(drop=True)
        shown = "; ".join(f"line {r.line} (id {r.id}): {r.problem}" for r in bad_rows.head(MAX_EXAMPLES).itertuples())
        more = f" and {len(bad_rows) - MAX_EXAMPLES} more" if len(bad_rows) > MAX_EXAMPLES else ""
        raise TeacherFileError(
            f"{path}: {bad_rows['line'].nunique()} bad row(s) of {len(cells)}: {shown}{more} "
            f"(TeacherFileError.bad_rows lists them all). Fix or remove those rows. {_FIX}",
            bad_rows,
        )
    frame = pd.DataFrame({"id": ids, "fold": folds})
    for column, values_column in zip(CLASS_COLUMNS, values.T):
        frame[column] = values_column
    return frame


def teacher_file_is_oof_only(frame: pd.DataFrame) -> bool:
    """Whether the file holds one prediction per id (out-of-fold only), not one set per fold."""
    return not frame["id"].duplicated().any()


def write_teacher_file(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write predictions (id, fold, CLASS_COLUMNS) as a teacher file, atomically (no half-written file after a crash)."""
    missing = [column for column in TEACHER_FILE_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"teacher predictions need the columns {', '.join(TEACHER_FILE_COLUMNS)}; missing {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(path, frame[list(TEACHER_FILE_COLUMNS)], index=False, float_format="%.8g")
