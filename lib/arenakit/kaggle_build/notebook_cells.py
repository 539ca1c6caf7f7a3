"""Keep the bootstrap cell first among the code cells of every percent-format notebook.

    refresh_bootstrap(Path("notebooks/ensemble.py"))   # True when the file changed

The cell is the text of arenakit/kaggle_build/bootstrap.py under a `# %% tags=["arenakit-bootstrap"]`
marker, with GPUS_ASSUMED set from the notebook's parameters cell (2 when a setting there asks for
swap_on_second_device, directly or through a profile such as decoder_2xt4), so the first cell can
say, before anything runs, that the machine has fewer GPUs than the settings assume. An older copy
(found by its tag) is replaced, so editing bootstrap.py and running `python build.py pair` updates
every notebook. The file is edited as text, not re-written by jupytext, so nothing else in it
changes (jupytext would add its version to the header).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from arenakit.kaggle_build import BuildError

BOOTSTRAP_TAG = "arenakit-bootstrap"
BOOTSTRAP_MARKER = f'# %% tags=["{BOOTSTRAP_TAG}"]'
_CELL_MARKER = re.compile(r"^# %%")
_NON_CODE_MARKER = re.compile(r"^# %%.*\[(markdown|md|raw)\]")
_PARAMETERS_MARKER = re.compile(r'^# %%.*tags=\[.*"parameters".*\]')
_GPUS_LINE = re.compile(r"^GPUS_ASSUMED = \d+$", re.MULTILINE)


def bootstrap_source(gpus_assumed: int = 1) -> str:
    """The bootstrap cell's code: the text of bootstrap.py, assuming that many GPUs."""
    text = (Path(__file__).parent / "bootstrap.py").read_text(encoding="utf-8").rstrip() + "\n"
    return _GPUS_LINE.sub(f"GPUS_ASSUMED = {int(gpus_assumed)}", text, count=1)


def parameter_values(text: str, where: str = "notebook") -> dict:
    """The literal values the parameters cell of a percent-format notebook assigns (others are skipped)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _PARAMETERS_MARKER.match(line)), None)
    if start is None:
        return {}
    end = next((i for i in range(start + 1, len(lines)) if _CELL_MARKER.match(lines[i])), len(lines))
    try:
        body = ast.parse("\n".join(lines[start + 1 : end])).body
    except SyntaxError as error:
        raise BuildError(f"{where}: the parameters cell is not valid Python ({error}); fix it and pair again") from None
    values = {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError):  # not a literal (e.g. list(range(16, 42))): not read
                continue
    return values


def gpus_assumed(parameters: dict) -> int:
    """2 when the settings ask for swap_on_second_device (set, or through a profile), else 1.

    Looked at: swap_on_second_device and profile (the LoRA notebook's), and each model's entry in
    inference (the ensemble's): a profile name or a dict of settings.
    """
    from arenakit.models.lora import profiles  # loads torch: only building a notebook's first cell needs it

    def second_device(settings) -> bool:
        if isinstance(settings, str):
            known = settings in profiles.ALL_PROFILES
            return known and bool(profiles.profile_settings(settings).get("swap_on_second_device"))
        if isinstance(settings, dict):
            return bool(settings.get("swap_on_second_device")) or second_device(settings.get("profile"))
        return False

    inference = parameters.get("inference")
    entries = list(inference.values()) if isinstance(inference, dict) else []
    return 2 if any(second_device(entry) for entry in [parameters, *entries]) else 1


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
    cell = f"{BOOTSTRAP_MARKER}\n{bootstrap_source(gpus_assumed(parameter_values(text, where)))}\n"
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
