"""Reading a competition CSV as text cells: UTF-8 only, damaged bytes reported, other encodings refused.

The competition files are UTF-8 (a byte-order mark in front is fine). A file saved in another
encoding (UTF-16 from Excel's "Unicode text", Windows-1252 from older tools) would read as
garbage, so it is refused with the commands that convert it. A UTF-8 file with a few damaged
bytes is read with each damaged stretch replaced by U+FFFD, and every cell that held one is
reported; no row is dropped. A file is taken to be in another encoding when its bytes that are
not UTF-8 outnumber its UTF-8 characters beyond ASCII: damage is rare, a foreign encoding is
wrong everywhere.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.errors import ArenaDataError

_BYTE_ORDER_MARKS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # what surrogateescape decodes a byte that is not UTF-8 to
_SHOWN_BYTE = re.compile(r"\\x[0-9a-f]{2}")  # what backslashreplace writes for one
_LINE_BREAK = re.compile(rb"\r\n?|\n")


def _convert_hint(path: Path, encoding: str) -> str:
    return (
        f"Convert it to UTF-8: `iconv -f {encoding} -t UTF-8 {path.name} > utf8.csv` and use utf8.csv as "
        f"{path.name}, or in Python: Path('utf8.csv').write_text(Path({str(path)!r})"
        f".read_text(encoding={encoding.lower()!r}), encoding='utf-8')."
    )


def _line_of(raw: bytes, offset: int) -> int:
    """The line (from 1) of the file that holds byte `offset`, counting LF, CRLF and CR breaks."""
    return len(_LINE_BREAK.findall(raw, 0, offset)) + 1


def _is_utf8(path: Path, chunk: int = 1 << 24) -> bool:
    """Whether the file decodes as UTF-8, read in chunks: the whole file as one str would take up to 4x its size."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as file:
            while block := file.read(chunk):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def check_encoding(path: Path) -> int:
    """How many bytes of the file are not UTF-8 (0 for a clean file); ArenaDataError for another encoding."""
    with path.open("rb") as file:
        head = file.read(1 << 16)
    for mark, name in _BYTE_ORDER_MARKS:
        if head.startswith(mark):
            raise ArenaDataError(
                f"{path}: line 1 starts with a {name} byte-order mark: the file is {name}, and the kit reads "
                f"UTF-8. {_convert_hint(path, name)}"
            )
    first_break = _LINE_BREAK.search(head)
    if b"\x00" in head[: first_break.start() if first_break else len(head)]:
        raise ArenaDataError(
            f"{path}: line 1 holds NUL bytes: the file looks like UTF-16 without a byte-order mark, and the "
            f"kit reads UTF-8. {_convert_hint(path, 'UTF-16LE')}"
        )
    if _is_utf8(path):
        return 0
    raw = path.read_bytes()  # the rare path: the whole file, to count and place the bad bytes
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        first = error.start
    text = raw.decode("utf-8", "surrogateescape")
    n_bad = sum(1 for _ in _ESCAPED_BYTE.finditer(text))
    n_good = len(text) - len(text.encode("ascii", "ignore")) - n_bad
    if n_bad > n_good:
        raise ArenaDataError(
            f"{path}: not UTF-8: line {_line_of(raw, first)} holds the byte 0x{raw[first]:02x}, and the file's "
            f"{n_bad} byte(s) that are not UTF-8 outnumber its {n_good} UTF-8 character(s) beyond ASCII, so it "
            f"was saved in another encoding (often Windows-1252 or Latin-1). {_convert_hint(path, 'WINDOWS-1252')}"
        )
    return n_bad


@dataclass(frozen=True)
class DamagedCell:
    """A cell that held bytes that are not UTF-8, now replaced by U+FFFD."""

    row: int  # position in the frame
    column: str
    n_bytes: int

    @property
    def problem(self) -> str:
        return f"{self.n_bytes} byte(s) that are not UTF-8, replaced by U+FFFD"


def _read(path: Path, errors: str) -> pd.DataFrame:
    # Every cell as a string: pandas' own guessing would turn "null" or "None" into NaN. Plain
    # "utf-8" (pandas drops a leading byte-order mark itself) reads faster than "utf-8-sig".
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors=errors)
    except pd.errors.EmptyDataError:
        raise ArenaDataError(
            f"{path}: the file is empty (not even a header line). Re-download it or restore its rows."
        ) from None
    except pd.errors.ParserError as error:
        raise ArenaDataError(f"{path}: not a readable CSV file ({error}). Re-download or repair it.") from None


def read_csv_cells(path: Path) -> tuple[pd.DataFrame, list[DamagedCell]]:
    """The file's cells as strings (short rows give NaN), and the cells whose bytes were not UTF-8."""
    n_bad = check_encoding(path)
    frame = _read(path, "replace")
    if not n_bad:
        return frame, []
    # Read again with each bad byte written as "\xNN": the cells that differ are the damaged ones.
    # Both handlers replace the same byte ranges and add no quote or line break, so the two reads
    # have the same shape.
    shown = _read(path, "backslashreplace")
    replaced_cells, shown_cells = frame.fillna("").to_numpy(), shown.fillna("").to_numpy()
    damaged = []
    for row, column in zip(*np.nonzero(replaced_cells != shown_cells)):
        n_bytes = len(_SHOWN_BYTE.findall(shown_cells[row, column])) - len(
            _SHOWN_BYTE.findall(replaced_cells[row, column])
        )
        damaged.append(DamagedCell(int(row), str(frame.columns[column]), n_bytes))
    return frame, damaged
