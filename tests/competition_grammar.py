"""A grammar of competition folders, good and bad, for property-based tests of the data layer.

Every piece of a folder is drawn by the strategy of its kind, and each kind knows its verdict:

    GOOD    loads as written: the same id, the label, the cleaned turns
    LISTED  loads, and the cell is listed in Competition.issues_frame() (file, row id, column)
    FATAL   load_competition raises ArenaDataError naming the file and a row or line

The pieces: text cells (prompt, response_a, response_b), ids, the three winner cells of a train
row, a file's encoding, its line endings and quoting, and faults of a whole file (no rows, a
repeated id, sample_submission ids that differ from test.csv's). To add a kind, write a strategy
that draws a Cell and list it, with its verdict, in TEXT_KINDS, ID_KINDS, WINNER_KINDS or
ENCODINGS; competition_folders() then draws it and Folder.expected_* predict what loading gives.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from hypothesis import strategies as st

from arenakit.core.schema import CLASS_COLUMNS, SUBMISSION_COLUMNS, TEST_COLUMNS, TEXT_COLUMNS, TRAIN_COLUMNS
from arenakit.data.text import clean_text


class Verdict(Enum):
    GOOD = "good"
    LISTED = "listed"
    FATAL = "fatal"


GOOD, LISTED, FATAL = Verdict.GOOD, Verdict.LISTED, Verdict.FATAL


@dataclass(frozen=True)
class Cell:
    """One piece as written into the file, and what loading it must give."""

    text: str | tuple[str, ...]  # the cell's text (three texts for the winner cells)
    kind: str = ""
    verdict: Verdict = GOOD
    turns: tuple[str, ...] | None = None  # GOOD text cells: the turns load_competition gives
    value: int | None = None  # ids that load: the id load_competition gives
    label: int | None = None  # winner cells that load: the label


@dataclass(frozen=True)
class Kind:
    """A kind of piece: its name, its verdict and the strategy that draws it."""

    name: str
    verdict: Verdict
    strategy: st.SearchStrategy

    def cells(self) -> st.SearchStrategy:
        return self.strategy.map(lambda cell: replace(cell, kind=self.name, verdict=self.verdict))


def kinds_with(kinds: list[Kind], *verdicts: Verdict) -> st.SearchStrategy:
    return st.one_of([kind.cells() for kind in kinds if kind.verdict in verdicts])


# -- text cells --------------------------------------------------------------------------------

# Any Unicode except lone surrogates (UTF-8 cannot write them; broken_surrogate writes them escaped).
TEXT = st.text(max_size=12)
WORDS = st.text(alphabet=string.ascii_letters + " ", max_size=8)
DAMAGE_MARK = "@@DAMAGE@@"  # where a "damaged" encoding puts bytes that are not UTF-8
DAMAGED_BYTES = (b"\xff", b"\x80", b"\xe9", b"\xc3", b"\xe2\x82", b"\xed\xa0\xbd")
# Four characters beyond ASCII beside the damage (at most three bytes), so the file still reads as
# UTF-8 with damage, not as another encoding (see arenakit.data.csv_reading).
DAMAGED_TEXT = f"caf\u00e9 \u2713 \u00f1 \u00fc {DAMAGE_MARK} end"


def turns_of(entries: list) -> tuple[str, ...]:
    return tuple("" if entry is None else clean_text(entry) for entry in entries)


@st.composite
def json_turns(draw):
    entries = draw(st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=3))
    return Cell(json.dumps(entries, ensure_ascii=draw(st.booleans())), turns=turns_of(entries))


@st.composite
def broken_surrogate(draw):
    text = draw(TEXT) + draw(st.sampled_from(["\ud83d", "\ude00", "\udbff"])) + draw(TEXT)
    return Cell(json.dumps([text]), turns=turns_of([text]))  # written as an escape: "\ud83d"


@st.composite
def line_break_in_string(draw):
    text = draw(WORDS) + draw(st.sampled_from(["\n", "\r\n", "\r"])) + draw(WORDS)
    return Cell(f'["{text}"]', turns=turns_of([text]))


@st.composite
def not_json(draw):
    return Cell("plain " + draw(TEXT))


@st.composite
def broken_escape(draw):
    return Cell(draw(st.sampled_from(['["bad \\x escape"]', '["\\ud83d', '["tab\\', '["\\u12"]', "['single']"])))


@st.composite
def json_not_a_list(draw):
    value = draw(st.one_of(st.none(), st.booleans(), st.integers(), TEXT, st.dictionaries(TEXT, TEXT, max_size=2)))
    return Cell(json.dumps(value))


@st.composite
def turn_not_a_string(draw):
    odd = draw(st.one_of(st.integers(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=2)))
    return Cell(json.dumps([draw(TEXT), odd]))


TEXT_KINDS = [
    Kind("JSON list of turns, some null", GOOD, json_turns()),
    Kind("[null]", GOOD, st.just(Cell("[null]", turns=("",)))),
    Kind("broken surrogate escape", GOOD, broken_surrogate()),
    Kind("raw line break inside a JSON string", GOOD, line_break_in_string()),
    Kind("not JSON", LISTED, not_json()),
    Kind("broken escape or unterminated JSON", LISTED, broken_escape()),
    Kind("JSON that is not a list", LISTED, json_not_a_list()),
    Kind("empty list", LISTED, st.just(Cell("[]"))),
    Kind("empty cell", LISTED, st.sampled_from([Cell(""), Cell(" "), Cell("\t")])),
    Kind("a turn that is not a string", LISTED, turn_not_a_string()),
    Kind("nested too deeply", LISTED, st.just(Cell("[" * 100_000 + "]" * 100_000))),
    Kind("number too long to read", LISTED, st.just(Cell("[" + "9" * 5000 + "]"))),
]
# Strategies are built once: building one per draw (hypothesis validates each) cost most of the run.
LOADABLE_TEXT_CELLS = kinds_with(TEXT_KINDS, GOOD, LISTED)
DAMAGED_CELL = Cell(json.dumps([DAMAGED_TEXT], ensure_ascii=False), "bytes that are not UTF-8", LISTED)
ACCENTED_CELL = Cell(json.dumps(["caf\u00e9"], ensure_ascii=False), "text beyond ASCII", GOOD, turns=("caf\u00e9",))

# -- ids ---------------------------------------------------------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@st.composite
def rewritten_id(draw):
    value = draw(st.integers(0, 10**6))
    form = draw(st.sampled_from([" {} ", "\t{}", "+{}", "00{}", "{}.0", "{}.000", "{}."]))
    return Cell(form.format(value), value=value)


ID_KINDS = [
    Kind("plain", GOOD, st.integers(0, INT64_MAX).map(lambda v: Cell(str(v), value=v))),
    Kind("negative", GOOD, st.integers(INT64_MIN, -1).map(lambda v: Cell(str(v), value=v))),
    Kind("signs, blanks, zeros or .0", LISTED, rewritten_id()),
    Kind(
        "too large for int64",
        FATAL,
        st.one_of(st.integers(INT64_MAX + 1, 10**25), st.integers(-(10**25), INT64_MIN - 1)).map(
            lambda v: Cell(str(v))
        ),
    ),
    Kind(
        "exponent",
        FATAL,
        st.builds(
            lambda m, e, f: Cell(f.format(m, e)),
            st.integers(1, 9),
            st.integers(0, 20),
            st.sampled_from(["{}e{}", "{}E+{:02d}"]),
        ),
    ),
    Kind("fraction", FATAL, st.builds(lambda v, d: Cell(f"{v}.{d}"), st.integers(0, 99), st.integers(1, 99))),
    Kind(
        "not a number",
        FATAL,
        st.sampled_from(["", "abc", "1,000", "0x1F", "NaN", "inf", "1_000", "\u0661\u0662"]).map(Cell),
    ),
]

LOADABLE_IDS = kinds_with(ID_KINDS, GOOD, LISTED)
FATAL_IDS = kinds_with(ID_KINDS, FATAL)

# -- winner cells (train rows) -----------------------------------------------------------------


def one_hot(label: int, one: str = "1", zero: str = "0") -> tuple[str, ...]:
    return tuple(one if index == label else zero for index in range(len(CLASS_COLUMNS)))


WINNER_KINDS = [
    Kind("one-hot 1/0", GOOD, st.integers(0, 2).map(lambda k: Cell(one_hot(k), label=k))),
    Kind("one-hot 1.0/0.0", GOOD, st.integers(0, 2).map(lambda k: Cell(one_hot(k, "1.0", "0.0"), label=k))),
    Kind("no winner", FATAL, st.just(Cell(("0", "0", "0")))),
    Kind("several winners", FATAL, st.sampled_from([("1", "1", "0"), ("1", "0", "1.0"), ("1", "1", "1")]).map(Cell)),
    Kind(
        "not 0 or 1",
        FATAL,
        st.builds(
            lambda k, junk: Cell(one_hot(k, one=junk)),
            st.integers(0, 2),
            st.sampled_from(["", "yes", "0.5", "2", "-1", "nan", "inf", "true"]),
        ),
    ),
]

GOOD_WINNERS = kinds_with(WINNER_KINDS, GOOD)
FATAL_WINNERS = kinds_with(WINNER_KINDS, FATAL)

# -- encodings, line endings and quoting of a whole file -----------------------------------------


def as_windows_1252(text: str) -> bytes:
    """The file as an older tool saves it: every character beyond ASCII is one byte (here é)."""
    return "".join(ch if ord(ch) < 128 else "\u00e9" for ch in text).encode("cp1252")


@dataclass(frozen=True)
class Encoding:
    name: str
    verdict: Verdict
    encode: Callable[[str], bytes]
    cell: Cell | None = None  # a text cell the file must hold for the encoding to show (put in by encode_as)


ENCODINGS = [
    Encoding("UTF-8", GOOD, lambda text: text.encode("utf-8")),
    Encoding("UTF-8 with BOM", GOOD, lambda text: text.encode("utf-8-sig")),
    # DAMAGED_CELL's mark becomes bytes that are not UTF-8; the cell is LISTED.
    Encoding("UTF-8 with damaged bytes", LISTED, lambda text: text.encode("utf-8"), DAMAGED_CELL),
    # Text beyond ASCII, so that the file differs from UTF-8 (else only its appended rows would fail).
    Encoding("Windows-1252", FATAL, as_windows_1252, ACCENTED_CELL),
    Encoding("UTF-16 with BOM", FATAL, lambda text: text.encode("utf-16")),
    Encoding("UTF-16LE without BOM", FATAL, lambda text: text.encode("utf-16-le")),
    Encoding("UTF-32 with BOM", FATAL, lambda text: text.encode("utf-32")),
]
LINE_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


def csv_field(text: str, quote_all: bool) -> str:
    if quote_all or any(ch in text for ch in ',"\r\n') or text != text.strip(" \t"):
        return '"' + text.replace('"', '""') + '"'
    return text


# -- files and folders ---------------------------------------------------------------------------


@dataclass
class CsvFile:
    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Cell]]
    encoding: Encoding
    newline: str = "\n"
    quote_all: bool = False
    final_newline: bool = True
    damage: bytes = b""

    def to_bytes(self) -> bytes:
        lines = [",".join(self.columns)]
        for row in self.rows:
            texts = []
            for column in self.columns:
                if column in CLASS_COLUMNS:
                    texts.append(row["winners"].text[CLASS_COLUMNS.index(column)])
                else:
                    texts.append(row[column].text)
            lines.append(",".join(csv_field(text, self.quote_all) for text in texts))
        text = self.newline.join(lines) + (self.newline if self.final_newline else "")
        raw = self.encoding.encode(text)
        return raw.replace(DAMAGE_MARK.encode(), self.damage, 1) if self.damage else raw

    def cells(self) -> list[tuple[dict[str, Cell], str, Cell]]:
        return [(row, column, cell) for row in self.rows for column, cell in row.items()]

    def ids(self) -> list[int | None]:
        return [row["id"].value for row in self.rows]

    def fatal(self) -> bool:
        """What read_table, labels_from_winners and the parse refuse, file by file."""
        if self.encoding.verdict is FATAL or not self.rows:
            return True
        if any(cell.verdict is FATAL for _, _, cell in self.cells()):
            return True
        return len(set(self.ids())) != len(self.rows)

    def listed(self) -> set[tuple[str, int, str]]:
        return {(self.name, row["id"].value, column) for row, column, cell in self.cells() if cell.verdict is LISTED}


@dataclass
class Folder:
    train: CsvFile
    test: CsvFile
    sample: CsvFile
    faults: list[str] = field(default_factory=list)

    @property
    def files(self) -> tuple[CsvFile, CsvFile, CsvFile]:
        return self.train, self.test, self.sample  # load_competition's order

    def write(self, folder: Path) -> None:
        for csv_file in self.files:
            (folder / csv_file.name).write_bytes(csv_file.to_bytes())

    def expected_failure(self) -> str | None:
        """The file load_competition must refuse (the first in its order), or None."""
        for csv_file in self.files:
            if csv_file.fatal():
                return csv_file.name
            if csv_file is self.sample and sorted(self.sample.ids()) != sorted(self.test.ids()):
                return csv_file.name
        return None

    def expected_issues(self) -> set[tuple[str, int, str]]:
        return set().union(*(csv_file.listed() for csv_file in self.files))

    def kinds(self) -> set[str]:
        """The kinds of piece in the folder (for hypothesis' statistics)."""
        names = {f"encoding: {csv_file.encoding.name}" for csv_file in self.files} | {
            f"fault: {f}" for f in self.faults
        }
        return names | {f"{column}: {cell.kind}" for f in self.files for _, column, cell in f.cells() if cell.kind}

    def __repr__(self) -> str:
        """What hypothesis prints for a failing folder: each file's form, then each row's pieces."""
        lines = [f"Folder(faults={self.faults}"]
        for csv_file in self.files:
            lines.append(
                f"  {csv_file.name}: {csv_file.encoding.name}, newline={csv_file.newline!r}, "
                f"quote_all={csv_file.quote_all}, final_newline={csv_file.final_newline}, damage={csv_file.damage!r}"
            )
            for row in csv_file.rows:
                pieces = [f"{column}={cell.kind or 'text'}:{shorten(cell.text)}" for column, cell in row.items()]
                lines.append("    " + ", ".join(pieces))
        return "\n".join(lines) + ")"

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis prints failing examples with this
        printer.text(repr(self))


def shorten(text) -> str:
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:40] + f"...({len(shown)} chars)"


FAULTS = ("id", "winners", "encoding", "no rows", "repeated id", "sample ids")


@st.composite
def csv_file(draw, name: str, columns: tuple[str, ...], n_rows: int, encodings: list[Encoding]) -> CsvFile:
    rows = []
    for _ in range(n_rows):
        row = {"id": draw(LOADABLE_IDS)}
        for column in columns:
            if column in TEXT_COLUMNS:
                row[column] = draw(LOADABLE_TEXT_CELLS)
            elif column in ("model_a", "model_b"):
                row[column] = Cell(draw(TEXT), "model name")
        if "winner_model_a" in columns:
            row["winners"] = draw(GOOD_WINNERS)
        rows.append(row)
    new_file = CsvFile(
        name,
        columns,
        rows,
        encodings[0],
        newline=draw(LINE_ENDINGS),
        quote_all=draw(st.booleans()),
        final_newline=draw(st.booleans()),
    )
    encode_as(draw, new_file, encodings)
    return new_file


def encode_as(draw, target: CsvFile, encodings: list[Encoding]) -> None:
    """Give the file one of `encodings` and the text cell that encoding needs in a random row.

    A file without rows or text columns takes one of the encodings that need no cell.
    """
    if not target.rows or TEXT_COLUMNS[0] not in target.columns:
        encodings = [encoding for encoding in encodings if encoding.cell is None]
    target.encoding = draw(st.sampled_from(encodings))
    target.damage = b""
    if target.encoding.cell is not None:
        row = draw(st.sampled_from(target.rows))
        row[draw(st.sampled_from(TEXT_COLUMNS))] = target.encoding.cell
    if target.encoding.cell is DAMAGED_CELL:
        target.damage = draw(st.sampled_from(DAMAGED_BYTES))


def inject(draw, folder: Folder, fault: str) -> None:
    """Make one piece of the folder fatal."""
    target = draw(st.sampled_from([folder.train, folder.test] if fault == "id" else folder.files))
    if fault == "winners":
        target = folder.train
    if fault == "sample ids":
        target = folder.sample
    if fault == "no rows":
        target.rows.clear()
        return
    if fault == "encoding":
        encode_as(draw, target, [encoding for encoding in ENCODINGS if encoding.verdict is FATAL])
        return
    if not target.rows:
        return
    row = draw(st.sampled_from(target.rows))
    if fault == "id":
        row["id"] = draw(FATAL_IDS)
    elif fault == "winners":
        row["winners"] = draw(FATAL_WINNERS)
    elif fault == "repeated id":
        other = draw(st.sampled_from(target.rows))
        row["id"] = replace(other["id"], kind="repeated id")
    elif fault == "sample ids":
        value = draw(st.integers(0, INT64_MAX))
        row["id"] = Cell(str(value), "id that may not be in test.csv", value=value)


@st.composite
def competition_folders(draw, max_train_rows: int = 4, max_test_rows: int = 3) -> Folder:
    loadable = [e for e in ENCODINGS if e.verdict is not FATAL]
    train = draw(csv_file("train.csv", TRAIN_COLUMNS, draw(st.integers(1, max_train_rows)), loadable))
    test = draw(csv_file("test.csv", TEST_COLUMNS, draw(st.integers(1, max_test_rows)), loadable))
    # sample_submission: test.csv's ids, in any order, written plainly (its order fixes the submission's).
    sample_rows = [
        {"id": Cell(str(row["id"].value), "test id", value=row["id"].value), "winners": Cell(("0.3",) * 3)}
        for row in draw(st.permutations(test.rows))
    ]
    sample_encodings = [e for e in loadable if e.verdict is GOOD]
    sample = CsvFile("sample_submission.csv", SUBMISSION_COLUMNS, sample_rows, sample_encodings[0])
    encode_as(draw, sample, sample_encodings)
    folder = Folder(train, test, sample)
    folder.faults = draw(st.lists(st.sampled_from(FAULTS), max_size=2))
    for fault in folder.faults:
        inject(draw, folder, fault)
    return folder
