"""Property: any competition folder from the grammar either loads completely or is refused clearly.

A folder drawn from tests/competition_grammar.py (good and bad cells, ids, winners, encodings,
line endings) gives one of two results: load_competition succeeds with every row, the same ids in
the same order, the labels and cleaned turns the grammar predicts, and exactly the odd cells
listed in issues_frame(); or it raises ArenaDataError naming the file and a row or line.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings

from arenakit.core.errors import ArenaDataError
from arenakit.data import TURN_COLUMNS, load_competition
from arenakit.data.text import join_turns
from competition_grammar import GOOD, Folder, competition_folders

# "line 3", "row(s) 2 below the header", "row id(s) 7", "duplicate id(s): 5", "test id(s) missing (e.g. 9"
NAMES_A_PLACE = re.compile(r"\b(line|row|id)s?(\(s\))?\b.{0,30}?-?\d")


def check_loaded(folder: Folder, data_dir: Path) -> None:
    competition = load_competition(data_dir, warn=False)
    frames = {"train.csv": competition.train, "test.csv": competition.test}
    for csv_file in folder.files:
        frame = frames.get(csv_file.name, competition.sample_submission)
        assert frame["id"].tolist() == csv_file.ids(), csv_file.name  # every row, same ids, same order
        for position, row in enumerate(csv_file.rows):
            for column, cell in row.items():
                if column in TURN_COLUMNS and cell.verdict is GOOD:
                    assert frame[TURN_COLUMNS[column]].iat[position] == cell.turns, (csv_file.name, column)
                    assert frame[column].iat[position] == join_turns(cell.turns)
                elif column in ("model_a", "model_b"):
                    assert frame[column].iat[position] == cell.text, (csv_file.name, column)
    assert competition.train["label"].tolist() == [row["winners"].label for row in folder.train.rows]
    issues = competition.issues_frame()
    assert set(zip(issues["file"], issues["row_id"], issues["column"])) == folder.expected_issues()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(folder=competition_folders())
def test_a_folder_loads_completely_or_is_refused_naming_file_and_place(folder):
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        folder.write(data_dir)
        refused = folder.expected_failure()
        event(f"refused: {refused}" if refused else "loaded")
        for kind in folder.kinds():
            event(kind)
        if refused is None:
            check_loaded(folder, data_dir)
            return
        with pytest.raises(ArenaDataError) as error:
            load_competition(data_dir, warn=False)
        message = str(error.value)
        assert message.startswith(f"{data_dir / refused}:"), message
        assert NAMES_A_PLACE.search(message), message
