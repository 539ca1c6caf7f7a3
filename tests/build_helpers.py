"""Shared by the build tests: run build.py in an isolated environment, and build the bundle once per session.

The environment never holds real Kaggle credentials or proxies: HOME, KAGGLE_CONFIG_DIR, TMPDIR and
HF_HOME point into the test's folder; pip keeps its download cache (so a wheel is fetched once).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

BUILD = REPO_ROOT / "build.py"
OWNER = "tester"
FAKE_KEY = "stub-secret-key-5f0c9d2e"  # a credential that must never land in a built file
TINY_BACKBONE = "arenakit-tests/tiny-deberta"
_PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def isolated_env(folder: Path, **extra) -> dict:
    home = Path(folder) / "home"
    (home / ".kaggle").mkdir(parents=True, exist_ok=True)
    (Path(folder) / "tmp").mkdir(exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("KAGGLE_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "HF_", "ARENAKIT_BOOTSTRAP"))
    }
    env.update(
        HOME=str(home),
        KAGGLE_CONFIG_DIR=str(home / ".kaggle"),
        TMPDIR=str(Path(folder) / "tmp"),
        HF_HOME=str(Path(folder) / "hf-home"),
        PIP_CACHE_DIR=_PIP_CACHE,
    )
    env.update(extra)
    return env


def build_py(*args, env: dict, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BUILD), *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def check(completed: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert completed.returncode == 0, f"{completed.args}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


def cache_backbone(hf_home: Path, name: str, build) -> Path:
    """Put a backbone into a Hugging Face cache as if downloaded (refs/main -> snapshots/<commit>/).

    Without tokenizer.json, as the hub's DeBERTa-v3 repos are (spm.model only).
    """
    repo = Path(hf_home) / "hub" / f"models--{name.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    folder = build(repo / "snapshots" / commit)
    (folder / "tokenizer.json").unlink()
    return folder


def shared_build(tmp_path_factory) -> dict:
    """Built once per session (owner "tester"): the wheels for this Python, both datasets, the kernels.

    The weights dataset also holds TINY_BACKBONE, a tiny random DeBERTa-v2 taken from a Hugging Face
    cache in the build's HF_HOME (env), as `--backbone NAME` takes a real one.
    """
    from tiny_backbones import build_tiny_deberta

    base = tmp_path_factory.getbasetemp() / "shared-build"
    paths = {"base": base, "wheels": base / "wheels", "build": base / "build", "env": isolated_env(base)}
    if (base / "done").is_file():
        return paths
    cache_backbone(paths["env"]["HF_HOME"], TINY_BACKBONE, build_tiny_deberta)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = paths["env"]
    check(
        build_py(
            "wheels", "--python-version", python, "--wheels-dir", paths["wheels"], "--retries", 1, env=env, cwd=base
        )
    )
    check(
        build_py(
            "datasets",
            "--wheels-dir",
            paths["wheels"],
            "--build-dir",
            paths["build"],
            "--owner",
            OWNER,
            "--allow-dirty",
            "--backbone",
            TINY_BACKBONE,
            env=env,
            cwd=base,
        )
    )
    check(build_py("kernels", "--build-dir", paths["build"], "--owner", OWNER, env=env, cwd=base))
    (base / "done").write_text("")
    return paths


def papermill_failure_log(folder: Path, failing_cell: int = 2) -> str:
    """A Kaggle kernel log (a JSON list of stream records) of a real papermill run whose code cell
    `failing_cell` (1-based) raises ValueError: what `kaggle kernels logs` prints for a failed notebook."""
    import json

    import nbformat

    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    notebook.cells = [nbformat.v4.new_code_cell(f"print('cell {n}')") for n in range(1, failing_cell)]
    notebook.cells += [
        nbformat.v4.new_code_cell("rows = 3\nraise ValueError(f'boom after {rows} rows')"),
        nbformat.v4.new_code_cell("print('never runs')"),
    ]
    Path(folder).mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, Path(folder) / "failing.ipynb")
    completed = subprocess.run(
        [sys.executable, "-m", "papermill", "failing.ipynb", "executed.ipynb", "--log-output"],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    records = [
        {"stream_name": stream, "time": round(0.1 * index, 1), "data": line}
        for stream, text in (("stdout", completed.stdout), ("stderr", completed.stderr))
        for index, line in enumerate(text.splitlines(keepends=True))
    ]
    return json.dumps(records)
