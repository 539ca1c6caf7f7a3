"""What a failed Kaggle kernel's log says: its last lines, the cell that failed and the error.

    report = read_failure(Path("build/logs/arenakit-baseline.log"), Path("build/kernels/baseline/baseline.ipynb"))
    print(report.describe())

The log `kaggle kernels logs` prints is a JSON list of stream records, in order:
[{"stream_name": "stdout" | "stderr", "time": seconds, "data": text}, ...]. Their texts joined
(less the terminal colour codes) are what the notebook run printed. Kaggle runs a notebook with
papermill, whose error names the failing cell by its execution count (`Exception encountered at
"In [7]"`), as IPython's traceback does (`Cell In[7], line 3`); every code cell runs in order,
so In [7] is the 7th code cell of the notebook that was pushed, whose source is shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PAPERMILL_CELL = re.compile(r'Exception encountered at "In \[(\d+)\]"')
_TRACEBACK_CELL = re.compile(r"Cell In ?\[(\d+)\], line (\d+)")
# "ValueError: boom", "torch.OutOfMemoryError: CUDA out of memory", "KeyboardInterrupt"
_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit)\b(?::.*)?$")
# papermill's and nbclient's wrappers name the cell, not the error
_WRAPPERS = ("PapermillExecutionError", "CellExecutionError")
TAIL_LINES = 25
SOURCE_LINES = 12


def log_text(raw: str) -> str:
    """The text a notebook run printed, from a Kaggle log (a JSON list of stream records; plain text passes)."""
    try:
        records = json.loads(raw)
    except ValueError:
        records = None
    if not isinstance(records, list):
        return _ANSI.sub("", raw)
    return _ANSI.sub("", "".join(str(r.get("data", "")) for r in records if isinstance(r, dict)))


@dataclass(frozen=True)
class Failure:
    log: Path
    tail: list[str]  # the last lines of the log
    cell: int | None = None  # execution count of the failing cell (In [n])
    line: int | None = None  # line in that cell, when the traceback says
    error: str | None = None  # the exception line, e.g. "ValueError: boom"
    source: list[str] | None = None  # the failing cell's first lines, from the pushed notebook

    def describe(self) -> str:
        lines = [f"log: {self.log}"]
        if self.cell is not None:
            where = f"In [{self.cell}]" + (f", line {self.line}" if self.line else "")
            lines.append(
                f"failing cell: {where}" + (f" (code cell {self.cell} of the pushed notebook):" if self.source else "")
            )
            lines += [f"    | {text}" for text in self.source or []]
        if self.error:
            lines.append(f"error: {self.error}")
        lines.append(f"last {len(self.tail)} lines of the log:")
        lines += [f"    {text}" for text in self.tail]
        return "\n".join(lines)


def _cell_source(notebook: Path | None, count: int) -> list[str] | None:
    if notebook is None or not Path(notebook).is_file():
        return None
    cells = [c for c in json.loads(Path(notebook).read_text()).get("cells", []) if c.get("cell_type") == "code"]
    if not 1 <= count <= len(cells):
        return None
    source = cells[count - 1].get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    shown = source.splitlines()[:SOURCE_LINES]
    return shown + (["..."] if len(source.splitlines()) > SOURCE_LINES else [])


def read_failure(log: Path, notebook: Path | None = None, tail: int = TAIL_LINES) -> Failure:
    """The failing cell, error and last lines of a kernel's log; notebook: the .ipynb that was pushed."""
    lines = [line.rstrip() for line in log_text(Path(log).read_text(encoding="utf-8", errors="replace")).splitlines()]
    lines = [line for line in lines if line.strip()]
    text = "\n".join(lines)
    cell = line_number = None
    papermill = list(_PAPERMILL_CELL.finditer(text))
    if papermill:  # papermill names the failing cell; its traceback's first frame in that cell has the line
        cell = int(papermill[-1].group(1))
        frames = _TRACEBACK_CELL.finditer(text, papermill[-1].end())
        line_number = next((int(m.group(2)) for m in frames if int(m.group(1)) == cell), None)
    else:
        frames = list(_TRACEBACK_CELL.finditer(text))
        if frames:
            cell, line_number = int(frames[-1].group(1)), int(frames[-1].group(2))
    errors = [line.strip() for line in lines if _ERROR_LINE.match(line.strip())]
    errors = [e for e in errors if not any(wrapper in e.split(":")[0] for wrapper in _WRAPPERS)] or errors
    return Failure(
        Path(log),
        lines[-tail:],
        cell,
        line_number,
        errors[-1] if errors else None,
        _cell_source(notebook, cell) if cell is not None else None,
    )
