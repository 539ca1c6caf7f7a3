"""The data layer on files a user's tools can produce: float winners, no rows, odd ids, other encodings.

Each test writes the file's bytes by hand, so what is tested is exactly what lies on disk.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from arenakit.core.errors import ArenaDataError
from arenakit.core.schema import TEST_COLUMNS, TRAIN_COLUMNS
from arenakit.data import load_competition, load_test, load_train

TRAIN_HEADER = ",".join(TRAIN_COLUMNS)
TEST_HEADER = ",".join(TEST_COLUMNS)


def train_line(row_id, winners="1,0,0", response_b='"[""Hey.""]"'):
    return f'{row_id},model-x,model-y,"[""Hi""]","[""Hello!""]",{response_b},{winners}'


def write_lines(path, header, lines, encoding="utf-8", newline="\n"):
    path.write_bytes(newline.join([header, *lines, ""]).encode(encoding))
    return path


def write_competition(folder, train_lines, test_ids=(1001, 1002)):
    write_lines(folder / "train.csv", TRAIN_HEADER, train_lines)
    write_lines(folder / "test.csv", TEST_HEADER, [f'{i},"[""Q""]","[""A""]","[""B""]"' for i in test_ids])
    lines = [f"{i},0.3333333333333333,0.3333333333333333,0.3333333333333333" for i in test_ids]
    write_lines(folder / "sample_submission.csv", "id,winner_model_a,winner_model_b,winner_tie", lines)
    return folder


def test_winners_written_as_floats_are_zero_and_one(tmp_path):
    path = write_lines(tmp_path / "train.csv", TRAIN_HEADER, [train_line(1, "1.0,0.0,0.0"), train_line(2, "0,0.0,1")])
    train, issues = load_train(path)
    assert train["label"].tolist() == [0, 2] and issues == []
    assert train["winner_model_a"].tolist() == [1, 0] and train["winner_tie"].dtype == np.int8


@pytest.mark.parametrize("winners, shown", [("0.5,0.5,0", "'0.5'"), ("2.0,0,0", "'2.0'"), ("1,,0", "''")])
def test_winners_that_are_not_zero_or_one_are_named(tmp_path, winners, shown):
    path = write_lines(tmp_path / "train.csv", TRAIN_HEADER, [train_line(1), train_line(7, winners)])
    with pytest.raises(ArenaDataError, match=rf"winner columns must hold 0 or 1; row id\(s\) 7 .*{shown}.*Fix"):
        load_train(path)


@pytest.mark.parametrize("name, header", [("train.csv", TRAIN_HEADER), ("test.csv", TEST_HEADER)])
def test_a_file_without_rows_is_refused(tmp_path, name, header):
    write_competition(tmp_path, [train_line(1)])
    write_lines(tmp_path / name, header, [])
    with pytest.raises(ArenaDataError) as error:
        load_competition(tmp_path)
    message = str(error.value)
    assert message.startswith(str(tmp_path / name)) and "line 1 is the header and no data row follows" in message
    assert "Re-download" in message
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ArenaDataError, match=rf"{name}: the file is empty \(not even a header line\)\. Re-download"):
        load_competition(tmp_path)


@pytest.mark.parametrize(
    "cell, message",
    [
        (
            "9223372036854775808",
            r"id too large for a 64-bit integer in row\(s\) 2 below the header .*'9223372036854775808'",
        ),
        ("-99999999999999999999", r"id too large for a 64-bit integer in row\(s\) 2 "),
        ("1e5", r"id is not an integer in row\(s\) 2 below the header \(value\(s\) '1e5'\).*exponent"),
        ("7.5", r"id is not an integer in row\(s\) 2 .*'7.5'"),
        ("", r"id is not an integer in row\(s\) 2 .*''"),
    ],
)
def test_ids_that_are_not_int64_integers_are_refused(tmp_path, cell, message):
    path = write_lines(tmp_path / "train.csv", TRAIN_HEADER, [train_line(1), train_line(cell)])
    with pytest.raises(ArenaDataError, match=message) as error:
        load_train(path)
    assert str(error.value).startswith(str(path)) and "Fix those cells" in str(error.value)


def test_ids_written_oddly_are_read_and_listed(tmp_path):
    cells = ["9223372036854775807", "-9223372036854775808", "-5", '" 7 "', "+8", "009", "10.0"]
    path = write_lines(tmp_path / "train.csv", TRAIN_HEADER, [train_line(cell) for cell in cells])
    train, issues = load_train(path)
    assert train["id"].tolist() == [2**63 - 1, -(2**63), -5, 7, 8, 9, 10] and train["id"].dtype == np.int64
    assert [(issue.row_id, issue.column, issue.problem) for issue in issues] == [
        (7, "id", "id written as ' 7 ', read as 7"),
        (8, "id", "id written as '+8', read as 8"),
        (9, "id", "id written as '009', read as 9"),
        (10, "id", "id written as '10.0', read as 10"),
    ]


def test_invalid_utf8_bytes_are_replaced_and_listed(tmp_path):
    write_competition(tmp_path, [])
    lines = [train_line(10, response_b='"[""caf\u00e9 \u2713""]"'), train_line(11, response_b='"[""bad \x00BYTE""]"')]
    raw = "\n".join([TRAIN_HEADER, *lines, ""]).encode("utf-8").replace(b"\x00BYTE", b"\xe9\xff")
    (tmp_path / "train.csv").write_bytes(raw)
    with pytest.warns(UserWarning, match=r"1 cell\(s\) were repaired.*train.csv id 11 response_b: 2 byte\(s\)"):
        competition = load_competition(tmp_path)
    assert competition.train["id"].tolist() == [10, 11]  # no row dropped
    assert competition.train["response_b"].tolist() == ["caf\u00e9 \u2713", "bad \ufffd\ufffd"]
    assert competition.issues_frame().to_dict("records") == [
        {
            "file": "train.csv",
            "row_id": 11,
            "column": "response_b",
            "problem": "2 byte(s) that are not UTF-8, replaced by U+FFFD",
        }
    ]


@pytest.mark.parametrize(
    "encoding, message",
    [
        ("utf-16", r"line 1 starts with a UTF-16 byte-order mark: the file is UTF-16.*iconv -f UTF-16 -t UTF-8"),
        ("utf-32", r"line 1 starts with a UTF-32 byte-order mark.*iconv -f UTF-32 -t UTF-8"),
        (
            "utf-16-le",
            r"line 1 holds NUL bytes: the file looks like UTF-16 without a byte-order mark.*iconv -f UTF-16LE",
        ),
        ("cp1252", r"not UTF-8: line 2 holds the byte 0xe9.*Windows-1252.*iconv -f WINDOWS-1252 -t UTF-8"),
    ],
)
def test_a_file_in_another_encoding_is_refused_with_how_to_convert_it(tmp_path, encoding, message):
    lines = ['1,"[""caf\u00e9""]","[""A""]","[""B""]"']
    path = write_lines(tmp_path / "test.csv", TEST_HEADER, lines, encoding=encoding)
    with pytest.raises(ArenaDataError, match=message) as error:
        load_test(path)
    assert str(error.value).startswith(str(path)) and ".read_text(encoding=" in str(error.value)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_bom_line_endings_and_line_breaks_inside_strings(tmp_path, newline):
    lines = [
        f'1,"[""first{newline}second""]","[""A""]","[""B""]"',  # a raw line break inside a JSON string
        '2,"[""x""]","[""A""]","[""B""]"',
    ]
    path = write_lines(tmp_path / "test.csv", "\ufeff" + TEST_HEADER, lines, newline=newline)
    test, issues = load_test(path)
    assert issues == [] and test["id"].tolist() == [1, 2]
    assert test["prompt_turns"].tolist() == [("first\nsecond",), ("x",)]


@pytest.mark.parametrize(
    "cell, problem",
    [
        ('"' + "[" * 100_000 + '"', "not valid JSON (nested too deeply to read)"),
        ('"[' + "1" * 5000 + ']"', "not valid JSON (Exceeds the limit (4300 digits)"),
        ('""', "empty cell"),
        ("   ", "empty cell"),
    ],
)
def test_cells_json_cannot_read_are_kept_and_listed(tmp_path, cell, problem):
    path = write_lines(tmp_path / "test.csv", TEST_HEADER, [f'5,{cell},"[""A""]","[""B""]"'])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test, issues = load_test(path)
    assert test["id"].tolist() == [5] and [(i.row_id, i.column) for i in issues] == [(5, "prompt")]
    assert issues[0].problem.startswith(problem)
