"""Keep the bootstrap cell first among the code cells of every percent-format notebook.

    refresh_bootstrap(Path("notebooks/ensemble.py"))   # True when the file changed

The cell is the text of arenakit/kaggle_build/bootstrap.py under a `# %% tags=["arenakit-bootstrap"]`
marker. An older copy (found by its tag) is replaced, so editing bootstrap.py and running
`python build.py pair` updates every notebook. The file is edited as text, not re-written by
jupytext, so nothing else in it changes (jupytext would add its version to the header).
"""

from __future__ import annotations

import re
from pathlib import Path

from arenakit.kaggle_build import BuildError

BOOTSTRAP_TAG = "arenakit-bootstrap"
BOOTSTRAP_MARKER = f'# %% tags=["{BOOTSTRAP_TAG}"]'
_CELL_MARKER = re.compile(r"^# %%")
_NON_CODE_MARKER = re.compile(r"^# %%.*\[(markdown|md|raw)\]")


def bootstrap_source() -> str:
    """The bootstrap cell's code: the text of bootstrap.py."""
    return (Path(__file__).parent / "bootstrap.py").read_text(encoding="utf-8").rstrip() + "\n"


def with_bootstrap(text: str, where: str = "notebook") -> str:
    """The percent-format text with exactly one bootstrap cell, placed before the first code cell."""
    lines = _without_bootstrap(text.splitlines(keepends=True))
    first_code = next(
        (i for i, line in enumerate(lines) if _CELL_MARKER.match(line) and not _NON_CODE_MARKER.match(line)), None
    )
    if first_code is None:
        raise BuildError(
            f"{where}: no code cell (a `# %%` line) to put the bootstrap cell before; a kit notebook "
            f'starts with a parameters cell (`# %% tags=["parameters"]`)'
        )
    cell = f"{BOOTSTRAP_MARKER}\n{bootstrap_source()}\n"
    return "".join(lines[:first_code]) + cell + "".join(lines[first_code:])


def _without_bootstrap(lines: list[str]) -> list[str]:
    kept, skipping = [], False
    for line in lines:
        if _CELL_MARKER.match(line):
            skipping = line.strip() == BOOTSTRAP_MARKER
        if not skipping:
            kept.append(line)
    return kept


def refresh_bootstrap(py_path: Path) -> bool:
    """Write the bootstrap cell into a notebook's .py; True when the file changed."""
    text = py_path.read_text(encoding="utf-8")
    updated = with_bootstrap(text, str(py_path))
    if updated != text:
        py_path.write_text(updated, encoding="utf-8")
    return updated != text


def keep_cell_ids(notebook, previous: Path) -> None:
    """Give cells the ids they had in the previous .ipynb, so regenerating a pair changes only what changed.

    jupytext gives every cell a new random id. The old and new cell lists are aligned as a diff:
    an unchanged cell keeps its id, and an edited cell keeps the id of the old cell it replaces
    (same type, same place in the diff); an inserted cell gets a new one.
    """
    import difflib

    import nbformat

    if not previous.is_file():
        return
    old_cells = nbformat.read(previous, as_version=4).cells
    new_cells = notebook.cells
    keys = [[(cell.cell_type, cell.source) for cell in cells] for cells in (old_cells, new_cells)]
    for tag, old_start, old_end, new_start, new_end in difflib.SequenceMatcher(
        None, *keys, autojunk=False
    ).get_opcodes():
        if tag == "equal" or (tag == "replace" and old_end - old_start == new_end - new_start):
            for old, new in zip(old_cells[old_start:old_end], new_cells[new_start:new_end]):
                if old.cell_type == new.cell_type and old.get("id"):
                    new.id = old.id
