"""Run the kit's notebooks locally with papermill, in pipeline order, with an HTML report each.

    python build.py run                                  # synthetic sample -> build/run/
    python build.py run --data-dir data -p n_folds=3 baseline

Each notebook is read from its percent-format .py (the file people edit) through jupytext, run
on the python3 kernel with data_dir and out_dir injected as parameters, and written to the output
folder as <name>.ipynb (executed) and <name>.html. A failing notebook stops the run with the
notebook's name and the failing cell's error. papermill, jupytext and nbconvert come with the
kit's "tools" extra; they are imported here only, so the library itself runs without them.

Notebooks that do not read each other's output run side by side when the machine has the cores
(run_stages): the first model notebook alone (it writes the fold assignment every model shares),
then the other models together, the submission notebook last (it reads every model's folder).
Side by side, each kernel gets its share of the cores as its thread count (OMP_NUM_THREADS):
two kernels of two threads each on two cores would spend their time waiting on each other. When
one finishes, its cores go to the ones still running: the runner keeps each live notebook's share
in THREAD_SHARE_FILE in the run folder (arenakit.core.threads), rewritten at each finish, and the
embedder's, the LoRA model's and LightGBM's loops take the new count between batches. (A count
fixed at start left a core idle for minutes: deberta_lora's smoke run ended after 50 s, and
minilm_lgbm then embedded alone on one thread of two.) A thread count the caller set
(OMP_NUM_THREADS) is left alone and nothing is shared.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from arenakit.core import SHARE_FILE_ENV, SHARE_NAME_ENV, split_cores, write_thread_share
from arenakit.data import FOLDS_FILE, resolve_data_dir
from arenakit.pipeline import KERNEL, SUBMISSION_NOTEBOOK, available_notebooks

# The thread-count variables a kernel's libraries read at start: torch and OpenMP (LightGBM), MKL, OpenBLAS.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# In the run folder while notebooks run side by side: {notebook: threads} of those still running.
THREAD_SHARE_FILE = "thread_share.json"


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


def where_the_time_went(results: list[NotebookResult], top: int = 3, wall_seconds: float | None = None) -> str:
    """Each notebook's seconds, its slowest cells, and what the kernel start and HTML report took."""
    total = f"{sum(r.seconds for r in results):.0f} s in all"
    if wall_seconds is not None:
        total = f"{wall_seconds:.0f} s wall clock, {total}"
    lines = [f"where the time went ({total}):"]
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


def run_notebook(
    py_path: Path, out_dir: Path, parameters: dict, kernel: str = "python3", progress_bar: bool = True
) -> NotebookResult:
    """Execute one notebook into out_dir; raise NotebookFailed naming the failing cell."""
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
            progress_bar=progress_bar,
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


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says, else every core)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_stages(selected: list[str], out_dir: Path) -> list[list[str]]:
    """The selected notebooks in groups that may run side by side, in order.

    A model notebook reads only the data and the shared folds, which the first one to run writes
    (shared_folds), so the first runs alone unless out_dir holds them already. The submission
    notebook reads every model's folder, so it runs last.
    """
    models = [name for name in selected if name != SUBMISSION_NOTEBOOK]
    stages = [models] if (Path(out_dir) / FOLDS_FILE).exists() else [models[:1], models[1:]]
    stages.append([name for name in selected if name == SUBMISSION_NOTEBOOK])
    return [stage for stage in stages if stage]


def _run_notebook_with_threads(
    py_path: Path, out_dir: Path, parameters: dict, threads: int, share_file: Path | None
) -> NotebookResult:
    """run_notebook in a worker process whose kernel starts with `threads` threads and, when
    share_file is given, follows its share there (the worker may have run another notebook before)."""
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if share_file is not None:
        os.environ[SHARE_FILE_ENV], os.environ[SHARE_NAME_ENV] = str(share_file), py_path.stem
    return run_notebook(py_path, out_dir, parameters, progress_bar=False)


def run_side_by_side(paths: list[Path], out_dir: Path, parameters: dict, jobs: int) -> list[NotebookResult]:
    """Run notebooks at most `jobs` at a time, each in a worker process, the cores shared out among them.

    A process each rather than a thread: papermill changes the working directory, and the kernels'
    thread counts come from the environment they start with. As each finishes, the cores are
    shared again among the notebooks left (the first `jobs` of them run). A failure is raised
    once the notebooks already running have finished; none is started after it.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    width = min(jobs, len(paths))
    cores = usable_cores()
    names = [path.stem for path in paths]
    chosen = next((os.environ[name] for name in THREAD_ENV if os.environ.get(name)), None)
    share_file = None if chosen else Path(out_dir) / THREAD_SHARE_FILE
    shares = split_cores(cores, names[:width])
    if share_file is not None:
        write_thread_share(share_file, shares)
    start_threads = {name: int(chosen) if chosen else shares.get(name, max(1, cores // width)) for name in names}
    print(f"running {', '.join(names)} side by side, threads {start_threads} to start", flush=True)
    results = {}
    with ProcessPoolExecutor(width, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(_run_notebook_with_threads, path, out_dir, parameters, start_threads[path.stem], share_file): (
                path.stem
            )
            for path in paths
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[futures[future]] = future.result()
                left = [name for name in names if name not in results]
                if share_file is not None and left:
                    write_thread_share(share_file, split_cores(cores, left[:width]))
                    print(
                        f"  {', '.join(sorted(futures[f] for f in done))} done; threads now "
                        f"{split_cores(cores, left[:width])}",
                        flush=True,
                    )
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        finally:
            if share_file is not None:
                share_file.unlink(missing_ok=True)
    ordered = [results[name] for name in names]
    for result in ordered:
        print(f"  {result.name}: {result.seconds:.0f} s", flush=True)
    return ordered


def run_pipeline(
    notebook_dir: Path,
    out_dir: Path,
    data_dir: Path | None = None,
    names: list[str] | None = None,
    parameters: dict | None = None,
    sample_rows: int = 1000,
    jobs: int | None = None,
) -> list[NotebookResult]:
    """Run the selected notebooks (all by default) in pipeline order on one data folder.

    jobs: notebooks run side by side at most (run_stages says which may); None: one per usable
    core; 1 runs them one after another.
    """
    started = time.perf_counter()
    notebook_dir, out_dir = Path(notebook_dir).resolve(), Path(out_dir).resolve()
    selected = select_notebooks(names or [], notebook_dir)
    extra = dict(parameters or {})
    # The run folder and the data folder have their own options; a -p copy would be overridden silently.
    clashes = {"out_dir": "--out", "data_dir": "--data-dir"}
    given = [f"-p {key}={extra[key]!r}" for key in clashes if key in extra]
    if given:
        raise ValueError(
            f"{' and '.join(given)}: the run sets these from its own options; use "
            f"{' and '.join(clashes[key] for key in clashes if key in extra)} instead"
        )
    known = set().union(*(declared_parameters(read_notebook(notebook_dir / f"{n}.py")) for n in selected))
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ValueError(
            f"no selected notebook takes parameter(s) {', '.join(unknown)}; they take: {', '.join(sorted(known))}"
        )
    data_dir = resolve_data_dir(data_dir, out_dir, sample_rows=sample_rows)
    parameters = {**extra, "data_dir": str(data_dir), "out_dir": str(out_dir)}
    jobs = jobs or usable_cores()
    results = []
    for stage in run_stages(selected, out_dir):
        paths = [notebook_dir / f"{name}.py" for name in stage]
        if len(paths) > 1 and jobs > 1:
            results += run_side_by_side(paths, out_dir, parameters, jobs)
        else:
            results += [run_notebook(path, out_dir, parameters) for path in paths]
    print(where_the_time_went(results, wall_seconds=time.perf_counter() - started))
    return results
