"""Notebook pairs stay in sync, and the runner executes notebooks and reports failures well."""

from __future__ import annotations

import ast
import json

import jupytext
import pytest
from jupytext.compare import compare_notebooks

from arenakit.kaggle_build.notebook_cells import BOOTSTRAP_TAG
from arenakit.kaggle_build.runner import (
    THREAD_ENV,
    THREAD_SHARE_FILE,
    NotebookFailed,
    available_notebooks,
    run_pipeline,
    run_stages,
    usable_cores,
)
from conftest import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PAIRS = sorted(NOTEBOOK_DIR.glob("*.py"))


def test_every_notebook_has_its_pair():
    assert PAIRS, "no notebooks found"
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == [p.stem for p in PAIRS]


@pytest.mark.parametrize("py_path", PAIRS, ids=lambda p: p.stem)
def test_pair_in_sync(py_path):
    # jupytext --diff exits 0 on drift and --sync trusts the newer file: compare the contents.
    compare_notebooks(jupytext.read(py_path.with_suffix(".ipynb")), jupytext.read(py_path), fmt="py:percent")


# A notebook cell calls the library and shows the result; a longer cell is logic that belongs in lib/.
MAX_CODE_LINES_PER_CELL = 15  # imports, comments and blank lines not counted


@pytest.mark.parametrize("py_path", PAIRS, ids=lambda p: p.stem)
def test_notebook_is_thin_and_parameterised(py_path):
    notebook = jupytext.read(py_path)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "data_dir" in parameters[0].source and "out_dir" in parameters[0].source
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert all(c.outputs == [] for c in jupytext.read(py_path.with_suffix(".ipynb")).cells if c.cell_type == "code")
    # The generated bootstrap cell (tested against bootstrap.py) is the kit's, not the notebook's.
    own = [c for c in notebook.cells if c.cell_type == "code" and BOOTSTRAP_TAG not in c.metadata.get("tags", [])]
    for cell in own:
        tree = ast.parse(cell.source)
        defined = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)]
        assert not defined, f"{py_path.name}: defines {defined}; put it in lib/arenakit"
        assert not any(isinstance(node, ast.Lambda) for node in ast.walk(tree)), f"{py_path.name}: a lambda"
        if cell not in parameters:
            imports = {
                line
                for node in tree.body
                if isinstance(node, ast.Import | ast.ImportFrom)
                for line in range(node.lineno, node.end_lineno + 1)
            }
            code = [
                line
                for number, line in enumerate(cell.source.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#") and number not in imports
            ]
            assert len(code) <= MAX_CODE_LINES_PER_CELL, f"{py_path.name}: a cell of {len(code)} code lines"


def test_runner_reports_the_failing_notebook_and_cell(tmp_path, synthetic_dir):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "baseline.py").write_text(
        '# %% tags=["parameters"]\ndata_dir = None\nout_dir = "."\n\n'
        "# %%\nvalue = 1\n\n# %%\nraise ValueError(f'boom {value}')\n"
    )
    assert available_notebooks(notebooks) == ["baseline"]
    with pytest.raises(NotebookFailed, match=r"notebook baseline failed in cell \d+ .*ValueError: boom 1"):
        run_pipeline(notebooks, tmp_path / "out", data_dir=synthetic_dir)
    # The executed notebook and its report are kept for reading the traceback.
    assert (tmp_path / "out" / "baseline.html").stat().st_size > 1000
    with pytest.raises(ValueError, match="unknown notebook"):
        run_pipeline(notebooks, tmp_path / "out", names=["nope"])
    with pytest.raises(ValueError, match="no selected notebook takes parameter"):
        run_pipeline(notebooks, tmp_path / "out", parameters={"n_foldz": 3})


def test_run_stages_put_the_independent_model_notebooks_side_by_side(tmp_path):
    everything = ["baseline", "minilm_lgbm", "deberta_lora", "ensemble"]
    assert run_stages(everything, tmp_path) == [["baseline"], ["minilm_lgbm", "deberta_lora"], ["ensemble"]]
    assert run_stages(["deberta_lora", "ensemble"], tmp_path) == [["deberta_lora"], ["ensemble"]]
    (tmp_path / "folds.csv").write_text("id,fold\n")  # a re-run: the shared folds exist, no model writes them
    assert run_stages(everything, tmp_path) == [["baseline", "minilm_lgbm", "deberta_lora"], ["ensemble"]]


# Each fake notebook records when it ran and the thread count its kernel was given; the two model
# notebooks that may run side by side wait for each other's start (up to partner_wait s), which
# proves they did.
TIMED_NOTEBOOK = """# %% tags=["parameters"]
data_dir = None
out_dir = "."
fail = ""
partner_wait = 60

# %%
import json, os, time
from pathlib import Path
started = time.time()
Path(out_dir, "NAME.started").touch()
partner = {"minilm_lgbm": "deberta_lora", "deberta_lora": "minilm_lgbm"}.get("NAME")
while partner and not Path(out_dir, f"{partner}.started").exists() and time.time() < started + partner_wait:
    time.sleep(0.05)
if fail == "NAME":
    raise ValueError("boom in NAME")
met = partner is not None and Path(out_dir, f"{partner}.started").exists()
record = {"start": started, "threads": os.environ.get("OMP_NUM_THREADS"), "met": met}
sharing = met and not fail and "ARENAKIT_THREAD_SHARE" in os.environ and len(os.sched_getaffinity(0)) > 1
if sharing and "NAME" == "minilm_lgbm":  # outlives its partner, then takes the cores it left, as a batch loop would
    from arenakit.core import follow_thread_share, threads_now
    record["share_at_start"] = threads_now()
    Path(out_dir, "NAME.shared").touch()
    import torch
    while follow_thread_share() == record["share_at_start"] and time.time() < started + 60:
        time.sleep(0.05)
    record["share_after_partner"], record["torch_threads"] = threads_now(), torch.get_num_threads()
while sharing and "NAME" == "deberta_lora" and not Path(out_dir, "minilm_lgbm.shared").exists() and time.time() < started + 60:
    time.sleep(0.05)
record["end"] = time.time()
Path(out_dir, "NAME.json").write_text(json.dumps(record))
"""


def test_runner_runs_independent_notebooks_side_by_side_with_their_share_of_the_cores(tmp_path, monkeypatch):
    for name in THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    names = ["baseline", "minilm_lgbm", "deberta_lora", "ensemble"]
    for name in names:
        (notebooks / f"{name}.py").write_text(TIMED_NOTEBOOK.replace("NAME", name))
    out = tmp_path / "out"
    results = run_pipeline(notebooks, out, data_dir=tmp_path, jobs=2)
    assert [result.name for result in results] == names
    ran = {name: json.loads((out / f"{name}.json").read_text()) for name in names}
    first, left, right, last = (ran[name] for name in names)
    assert first["end"] <= min(left["start"], right["start"])  # it writes the folds the others read
    assert left["met"] and right["met"]  # each saw the other start: side by side
    assert last["start"] >= max(left["end"], right["end"])  # the ensemble reads every model's folder
    assert left["threads"] == right["threads"] == str(max(1, usable_cores() // 2))
    # deberta_lora's cores went to minilm_lgbm when it finished: every core, torch's threads too.
    if usable_cores() > 1:  # (one core: nothing to share)
        assert (left["share_at_start"], left["share_after_partner"]) == (usable_cores() // 2, usable_cores())
        assert left["torch_threads"] == usable_cores() and left["end"] > right["end"]
    assert not (out / THREAD_SHARE_FILE).exists()  # gone with the stage
    assert first["threads"] is None and last["threads"] is None  # alone: the kernel's own default
    # A notebook failing side by side stops the run with its name; the ensemble does not start.
    for stale in out.glob("*.started"):
        stale.unlink()
    (out / "ensemble.json").unlink()
    (out / "folds.csv").write_text("id,fold\n")  # the models' stage, without the first one alone
    with pytest.raises(NotebookFailed, match="notebook deberta_lora failed .*ValueError: boom in deberta_lora"):
        run_pipeline(notebooks, out, data_dir=tmp_path, names=names[1:], jobs=2, parameters={"fail": "deberta_lora"})
    assert (out / "minilm_lgbm.started").exists() and not (out / "ensemble.json").exists()


def test_regenerating_a_pair_keeps_the_cell_ids(tmp_path):
    from arenakit.kaggle_build.notebook_cells import keep_cell_ids
    from arenakit.kaggle_build.runner import read_notebook

    previous = tmp_path / "baseline.ipynb"
    jupytext.write(read_notebook(NOTEBOOK_DIR / "baseline.py"), previous)
    old_ids = [cell.id for cell in jupytext.read(previous).cells]
    edited = read_notebook(NOTEBOOK_DIR / "baseline.py")
    edited.cells[-1].source += "\n# edited"
    edited.cells.insert(1, jupytext.reads("# %% [markdown]\n# new cell\n", fmt="py:percent").cells[0])
    keep_cell_ids(edited, previous)
    ids = [cell.id for cell in edited.cells]
    assert len(set(ids)) == len(ids)
    # Unchanged cells keep their ids wherever they moved; the edited last cell keeps its place's id.
    assert ids[0] == old_ids[0] and ids[2:] == old_ids[1:]
    assert ids[1] not in old_ids
