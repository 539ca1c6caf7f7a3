"""The main job (`python build.py`), then build.py rehearse: the built submission kernel on a fake /kaggle/input.

The main job runs every notebook on a small synthetic sample (the DeBERTa one on a tiny random
DeBERTa-v2 taken from a Hugging Face cache) and builds the wheels, datasets and kernels. The
rehearsal then builds what a competitor who trained on their own GPUs pushes: the DeBERTa model
in a trained-models dataset (instead of its training kernel's output) and its backbone attached
as a Kaggle Model (instead of uploaded). The rehearsal kernel sees no Hugging Face cache and no
arenakit: it must install the bundled wheels and find the data, the backbones (MiniLM in the
weights dataset, the tiny DeBERTa as a mounted Kaggle Model), the models dataset and the other
training kernels' outputs under the fake input root, in both mount layouts.
"""

from __future__ import annotations

import json
import stat
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest

from arenakit.core.schema import CLASS_COLUMNS
from arenakit.inputs.backbones import folder_name
from arenakit.kaggle_build.runner import available_notebooks, declared_parameters, read_notebook
from arenakit.kaggle_build.settings import KaggleSettings
from build_helpers import OWNER, TINY_BACKBONE, build_py, cache_backbone, check, isolated_env
from conftest import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
SUBMISSION = KaggleSettings.read(REPO_ROOT / "kernel-metadata.json").submission_name
WHEELS_MOUNT = {"flat": "arenakit-wheels", "nested": f"datasets/{OWNER}/arenakit-wheels"}
KAGGLE_MODEL = f"{TINY_BACKBONE}/transformers/tiny/1"  # the tiny DeBERTa, attached as a Kaggle Model
CARRIED = "deberta_lora"  # the model the trained-models dataset carries

pytestmark = pytest.mark.skipif(
    not (NOTEBOOK_DIR / f"{SUBMISSION}.py").exists(),
    reason=f"notebooks/{SUBMISSION}.py (the submission kernel's code_file) is not there yet",
)


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """`python build.py`, the main job, on 80 synthetic rows and 2 folds: the run, then wheels, datasets, kernels."""
    from tiny_backbones import build_tiny_deberta

    base = tmp_path_factory.mktemp("main-job")
    env = isolated_env(base)
    cache_backbone(env["HF_HOME"], TINY_BACKBONE, build_tiny_deberta)
    notebooks = available_notebooks(NOTEBOOK_DIR)
    declared = set().union(*(declared_parameters(read_notebook(NOTEBOOK_DIR / f"{n}.py")) for n in notebooks))
    backbone = ["-p", f"backbone={TINY_BACKBONE}"] if "backbone" in declared else []
    paths = {"env": env, "run": base / "run", "build": base / "build", "wheels": base / "wheels"}
    completed = check(
        build_py(
            "--out",
            paths["run"],
            "--sample-rows",
            80,
            "-p",
            "n_folds=2",
            *backbone,
            "--python-version",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            "--wheels-dir",
            paths["wheels"],
            "--build-dir",
            paths["build"],
            "--owner",
            OWNER,
            "--backbone",
            TINY_BACKBONE,
            "--allow-dirty",
            env=env,
            cwd=base,
        )
    )
    paths["stdout"] = completed.stdout
    paths["training"] = [name for name in notebooks if name != SUBMISSION]
    return paths


def test_the_main_job_runs_then_builds_everything(main_job):
    steps = [
        line.split(":")[0] for line in main_job["stdout"].splitlines() if line.startswith("== ") and line.endswith(" s")
    ]
    assert steps == ["== run", "== wheels", "== datasets", "== kernels"]
    assert "next: `python build.py push --dry-run`" in main_job["stdout"]
    assert (main_job["run"] / "submission.csv").is_file()  # the submission notebook ran locally too
    assert sorted(p.name for p in (main_job["build"] / "datasets").iterdir()) == ["arenakit-weights", "arenakit-wheels"]
    assert sorted(p.name for p in (main_job["build"] / "kernels").iterdir()) == sorted(
        main_job["training"] + [SUBMISSION]
    )


def test_the_run_writes_each_model_notebooks_artifacts_and_report(main_job):
    out = main_job["run"]
    train_ids = pd.read_csv(out / "data" / "train.csv")["id"]  # default data: a synthetic sample in the run folder
    test_ids = pd.read_csv(out / "data" / "test.csv")["id"]
    assert json.loads((out / "folds.json").read_text())["n_folds"] == 2
    assert (out / "plots" / "data_overview.png").stat().st_size > 10_000
    for name in ("baseline", "minilm_lgbm"):
        executed = json.loads((out / f"{name}.ipynb").read_text())
        injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert "n_folds = 2" in "".join(injected[0]["source"])
        assert (out / f"{name}.html").read_text().count("<img") >= 4  # the report shows its plots
        # The artifacts contract the ensemble reads.
        model_dir = out / name
        oof, test = pd.read_csv(model_dir / "oof.csv"), pd.read_csv(model_dir / "test.csv")
        assert list(oof.columns) == ["id", *CLASS_COLUMNS] and list(test.columns) == ["id", *CLASS_COLUMNS]
        assert sorted(oof["id"]) == sorted(train_ids) and sorted(test["id"]) == sorted(test_ids)
        np.testing.assert_allclose(oof[list(CLASS_COLUMNS)].sum(axis=1), 1.0, atol=1e-6)
        metrics = json.loads((model_dir / "metrics.json").read_text())
        assert 0.0 < metrics["oof_log_loss"] < 2.0 and len(metrics["fold_log_loss"]) == 2
        assert sorted(p.name for p in (model_dir / "folds").iterdir()) == ["fold_0", "fold_1"]
        assert {"confusion_matrix.png", "reliability.png", "log_loss_by_length.png"} <= {
            p.name for p in (model_dir / "plots").iterdir()
        }
    assert (out / "minilm_lgbm" / "plots" / "feature_importance.png").exists()
    assert (out / "baseline" / "plots" / "coefficients.png").exists()


def test_rehearsal_runs_the_submission_kernel_on_a_fake_kaggle_input(main_job, tmp_path):
    run, training, work = main_job["run"], main_job["training"], tmp_path / "rehearsal"
    if CARRIED not in training:
        pytest.skip(f"notebooks/{CARRIED}.py is not there")
    build, env = tmp_path / "build", main_job["env"]
    datasets = check(
        build_py(
            "datasets",
            *("--build-dir", build, "--wheels-dir", main_job["wheels"], "--owner", OWNER, "--allow-dirty"),
            *("--backbone", f"{TINY_BACKBONE}=kaggle:{KAGGLE_MODEL}", "--models", run, CARRIED),
            env=env,
            cwd=tmp_path,
        )
    )
    assert f"dataset {OWNER}/arenakit-models:" in datasets.stdout
    assert not (build / "datasets" / "arenakit-weights" / folder_name(TINY_BACKBONE)).exists()
    check(build_py("kernels", "--build-dir", build, "--owner", OWNER, env=env, cwd=tmp_path))
    completed = check(
        build_py(
            "rehearse",
            "--owner",
            OWNER,
            "--build-dir",
            build,
            "--run-dir",
            run,
            "--work-dir",
            work,
            env=main_job["env"],
            cwd=tmp_path,
        )
    )
    test_ids = pd.read_csv(run / "data" / "test.csv")["id"].tolist()
    for layout, mount in WHEELS_MOUNT.items():
        base = work / layout
        assert f"rehearsal ({layout} layout): {SUBMISSION} ran in" in completed.stdout
        assert f"arenakit from the bundled wheels ({base / 'venv' / 'lib'}" in completed.stdout
        submission = pd.read_csv(base / "working" / "submission.csv")
        assert submission["id"].tolist() == test_ids and list(submission.columns) == ["id", *CLASS_COLUMNS]
        np.testing.assert_allclose(submission[list(CLASS_COLUMNS)].sum(axis=1), 1.0, atol=1e-6)
        # Every training model was found under the input root and blended, none left out.
        metrics = json.loads((base / "working" / SUBMISSION / "metrics.json").read_text())
        assert sorted(metrics["models"]) == sorted(training) and metrics["left_out"] == {}
        executed = nbformat.read(base / "working" / f"{SUBMISSION}.ipynb", as_version=4)
        bootstrap = next(cell for cell in executed.cells if cell.cell_type == "code")
        assert bootstrap.outputs[0]["text"] == f"arenakit bootstrap: installed 3 wheels from {base / 'input' / mount}\n"
        root = base / "input"
        assert all(not p.stat().st_mode & stat.S_IWUSR for p in [root, *root.rglob("*")] if p.is_dir())
    flat, nested = work / "flat" / "input", work / "nested" / "input"
    assert (flat / "llm-classification-finetuning" / "train.csv").is_file()
    assert (nested / "competitions" / "llm-classification-finetuning" / "train.csv").is_file()
    for name in training:
        slug = f"arenakit-{name.replace('_', '-')}"
        assert (flat / slug / name / "metrics.json").is_file() is (name != CARRIED)
        assert (nested / "notebooks" / OWNER / slug / name / "metrics.json").is_file() is (name != CARRIED)
    # The carried model came from the models dataset, its backbone from the Kaggle Model mount (the
    # weights dataset lacks it and the kernel has no Hugging Face cache): it was blended all the same.
    assert (flat / "arenakit-models" / CARRIED / "metrics.json").is_file()
    assert (nested / "datasets" / OWNER / "arenakit-models" / CARRIED / "metrics.json").is_file()
    owner, model, *rest = KAGGLE_MODEL.split("/")
    assert (flat / model / "/".join(rest) / "config.json").is_file()
    assert (nested / "models" / KAGGLE_MODEL / "config.json").is_file()
    assert not list(flat.rglob("dataset-metadata.json"))  # Kaggle does not mount the upload's metadata


def test_rehearsal_names_what_is_missing(main_job, tmp_path):
    run, training = main_job["run"], main_job["training"]
    partial = tmp_path / "partial-run"
    (partial / "data").mkdir(parents=True)
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        (partial / "data" / name).write_bytes((run / "data" / name).read_bytes())
    completed = build_py(
        "rehearse",
        "--owner",
        OWNER,
        "--build-dir",
        main_job["build"],
        "--run-dir",
        partial,
        "--work-dir",
        tmp_path / "w",
        "--layout",
        "flat",
        env=main_job["env"],
        cwd=tmp_path,
    )
    assert completed.returncode == 1
    assert (
        f"{partial / training[0]}: no outputs of the {training[0]} notebook there; run `python build.py run`"
        in completed.stderr
    )
    completed = build_py(
        "rehearse",
        "--owner",
        OWNER,
        "--build-dir",
        main_job["build"],
        "--run-dir",
        tmp_path / "none",
        "--work-dir",
        tmp_path / "w",
        env=main_job["env"],
        cwd=tmp_path,
    )
    assert completed.returncode == 1 and "no train.csv; pass --data-dir" in completed.stderr
