"""Run the kit's notebooks locally with papermill, in pipeline order, with an HTML report each.

    python build.py run                                  # synthetic sample -> build/run/
    python build.py run --data-dir data -p n_folds=3 baseline

Each notebook is read from its percent-format .py (the file people edit) through jupytext, run
on the python3 kernel with data_dir and out_dir injected as parameters, and written to the output
folder as <name>.ipynb (executed) and <name>.html. A failing notebook stops the run with the
notebook's name and the failing cell's error. papermill, jupytext and nbconvert come with the
kit's "tools" extra; they are imported here only, so the library itself runs without them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from arenakit.paths import resolve_data_dir
from arenakit.pipeline import KERNEL, available_notebooks


class NotebookFailed(RuntimeError):
    """A notebook raised: the message names it, the failing cell and the error."""


@dataclass(frozen=True)
class NotebookResult:
    name: str
    executed: Path
    report: Path
    seconds: float
    cells: tuple = ()  # (seconds, first line) of each code cell, as papermill timed it


def cell_seconds(executed: Path) -> tuple:
    """(seconds, first source line) of every code cell of an executed notebook."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    return tuple(
        (float(cell.metadata.get("papermill", {}).get("duration") or 0.0), cell.source.strip().split("\n")[0])
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


def where_the_time_went(results: list[NotebookResult], top: int = 3) -> str:
    """Each notebook's seconds, its slowest cells, and what the kernel start and HTML report took."""
    lines = [f"where the time went ({sum(r.seconds for r in results):.0f} s in all):"]
    for result in results:
        in_cells = sum(seconds for seconds, _ in result.cells)
        lines.append(
            f"  {result.name}: {result.seconds:.0f} s (kernel start and report {result.seconds - in_cells:.0f} s)"
        )
        for seconds, first_line in sorted(result.cells, reverse=True)[:top]:
            lines.append(f"    {seconds:7.1f} s  {first_line[:90]}")
    return "\n".join(lines)


def select_notebooks(requested: list[str], notebook_dir: Path) -> list[str]:
    available = available_notebooks(notebook_dir)
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ValueError(f"unknown notebook(s) {', '.join(unknown)}; this kit has: {', '.join(available)}")
    return [name for name in available if not requested or name in requested]


def read_notebook(py_path: Path):
    """The notebook from its percent-format .py, with the kernelspec papermill needs."""
    import jupytext

    notebook = jupytext.read(py_path)
    notebook.metadata.setdefault("kernelspec", dict(KERNEL))
    return notebook


def declared_parameters(notebook) -> set[str]:
    """Names assigned in the notebook's cell tagged "parameters"."""
    import ast

    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return {
                target.id
                for node in tree.body
                if isinstance(node, (ast.Assign, ast.AnnAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Name)
            }
    return set()


def run_notebook(py_path: Path, out_dir: Path, parameters: dict, kernel: str = "python3") -> NotebookResult:
    """Execute one notebook into out_dir; raise NotebookFailed naming the failing cell."""
    import time

    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = py_path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{name}.ipynb"
    notebook = read_notebook(py_path)
    declared = declared_parameters(notebook)
    jupytext.write(notebook, executed)
    started = time.perf_counter()
    failure = None
    # A non-inline MPLBACKEND (Agg in CI) inherited by the kernel would keep plots out of the report.
    inherited_backend = os.environ.pop("MPLBACKEND", None)
    try:
        papermill.execute_notebook(
            executed,
            executed,
            parameters={k: v for k, v in parameters.items() if k in declared},
            kernel_name=kernel,
            cwd=out_dir,
            progress_bar=True,
        )
    except PapermillExecutionError as error:
        failure = NotebookFailed(
            f"notebook {name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\nexecuted notebook: {executed}"
        )
    finally:
        if inherited_backend is not None:
            os.environ["MPLBACKEND"] = inherited_backend
    report = write_html_report(executed)
    if failure:
        raise failure
    return NotebookResult(name, executed, report, time.perf_counter() - started, cell_seconds(executed))


def write_html_report(executed: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    report = executed.with_suffix(".html")
    report.write_text(body, encoding="utf-8")
    return report


def run_pipeline(
    notebook_dir: Path,
    out_dir: Path,
    data_dir: Path | None = None,
    names: list[str] | None = None,
    parameters: dict | None = None,
    sample_rows: int = 1000,
) -> list[NotebookResult]:
    """Run the selected notebooks (all by default) in pipeline order on one data folder."""
    notebook_dir, out_dir = Path(notebook_dir).resolve(), Path(out_dir).resolve()
    selected = select_notebooks(names or [], notebook_dir)
    extra = dict(parameters or {})
    known = set().union(*(declared_parameters(read_notebook(notebook_dir / f"{n}.py")) for n in selected))
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ValueError(
            f"no selected notebook takes parameter(s) {', '.join(unknown)}; they take: {', '.join(sorted(known))}"
        )
    data_dir = resolve_data_dir(data_dir, out_dir, sample_rows=sample_rows)
    common = {"data_dir": str(data_dir), "out_dir": str(out_dir)}
    results = [run_notebook(notebook_dir / f"{name}.py", out_dir, {**extra, **common}) for name in selected]
    print(where_the_time_went(results))
    return results
