"""build.py datasets --models: a run trained elsewhere becomes <prefix>-models, checked, and the kernels mount it."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pandas as pd
import pytest

from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.data.synthetic import write_sample
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.built import MODELS_MARKER
from arenakit.kaggle_build.manifest import sha256
from arenakit.kaggle_build.models_dataset import check_run
from arenakit.models.baseline import BaselineModel
from arenakit.pipeline.cv import cross_validate
from build_helpers import FAKE_KEY, OWNER, build_py, check, isolated_env, shared_build
from kaggle_stub import KaggleStub


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run folder as the training command leaves it: folds files, "baseline" on every fold and a model
    named "deberta_lora" (a baseline here: what matters is its folder) trained on fold 1 only, with its
    plots and a resumable checkpoint beside its fold models."""
    base = tmp_path_factory.mktemp("models-run")
    competition = load_competition(write_sample(base / "data", n_train=90, n_test=9, seed=3))
    run = base / "run"
    folds = shared_folds(run, competition.train, n_folds=3, seed=0)
    for name, only in (("baseline", None), ("deberta_lora", [1])):
        cv = cross_validate(
            BaselineModel(C=1.0),
            competition.train,
            folds,
            test=competition.test,
            name=name,
            progress=False,
            only_folds=only,
        )
        cv.save(run, competition.train, competition.test)
        if only:
            cv.plots(competition.train, run)
    (run / "deberta_lora" / "checkpoints" / "fold_1").mkdir(parents=True)
    (run / "deberta_lora" / "checkpoints" / "fold_1" / "checkpoint.pt").write_bytes(b"training state")
    return run


def _copy_run(trained_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy


def test_the_models_dataset_carries_the_run_and_replaces_its_training_kernels(tmp_path_factory, trained_run, tmp_path):
    shared = shared_build(tmp_path_factory)
    build = tmp_path / "build"
    env = isolated_env(tmp_path)
    common = ["--build-dir", build, "--owner", OWNER]
    check(build_py("kernels", *common, env=env, cwd=tmp_path))
    assert (build / "kernels" / "deberta_lora").is_dir()
    completed = check(
        build_py(
            "datasets",
            *common,
            "--wheels-dir",
            shared["wheels"],
            "--allow-dirty",
            "--models",
            trained_run,
            env=env,
            cwd=tmp_path,
        )
    )
    dataset = build / "datasets" / "arenakit-models"
    assert f"dataset {OWNER}/arenakit-models:" in completed.stdout
    # Every model folder by default; the contract's files only: the checkpoint stays out, with a note.
    assert sorted(p.name for p in dataset.iterdir()) == sorted(
        ["baseline", "deberta_lora", "folds.csv", "folds.json", MODELS_MARKER, "manifest.json", "dataset-metadata.json"]
    )
    lora = dataset / "deberta_lora"
    # A swap-averaged model's two orders apart come along: the ensemble on Kaggle fits a swapped stage on them.
    assert sorted(p.name for p in lora.iterdir()) == [
        "complete.json",
        "folds",
        "metrics.json",
        "oof.csv",
        "oof_one_order.csv",
        "oof_swapped.csv",
        "plots",
        "test.csv",
    ]
    assert (lora / "plots" / "confusion_matrix.png").is_file() and not (dataset / "baseline" / "plots").exists()
    assert [p.name for p in (lora / "folds").iterdir()] == ["fold_1"]
    assert f"note: {trained_run / 'deberta_lora' / 'checkpoints'} left out" in completed.stdout
    marker = json.loads((dataset / MODELS_MARKER).read_text())
    assert marker["models"]["deberta_lora"]["folds_trained"] == [1]
    assert marker["models"]["baseline"]["folds_trained"] == [0, 1, 2]
    assert marker["models"]["deberta_lora"]["oof_rows"] == len(pd.read_csv(trained_run / "deberta_lora" / "oof.csv"))
    assert marker["folds"] == json.loads((trained_run / "folds.json").read_text())
    manifest = json.loads((dataset / "manifest.json").read_text())
    files = {p.relative_to(dataset).as_posix(): p for p in dataset.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == set(files) - {"manifest.json", "dataset-metadata.json"}
    assert all(manifest["files"][name]["sha256"] == sha256(files[name]) for name in manifest["files"])
    assert json.loads((dataset / "dataset-metadata.json").read_text())["id"] == f"{OWNER}/arenakit-models"

    # The kernels were rebuilt: the submission mounts the dataset instead of the carried models' kernels,
    # and those kernels are gone (pushing them would train again on Kaggle).
    assert "kernels: rebuilt" in completed.stdout
    assert "kernel deberta_lora: not built; its model comes from the dataset tester/arenakit-models" in completed.stdout
    assert sorted(p.name for p in (build / "kernels").iterdir()) == ["ensemble", "minilm_lgbm"]
    submission = json.loads((build / "kernels" / "ensemble" / "kernel-metadata.json").read_text())
    assert submission["kernel_sources"] == [f"{OWNER}/arenakit-minilm-lgbm"]
    assert submission["dataset_sources"] == [f"{OWNER}/arenakit-{kind}" for kind in ("wheels", "weights", "models")]
    training = json.loads((build / "kernels" / "minilm_lgbm" / "kernel-metadata.json").read_text())
    assert training["dataset_sources"] == [f"{OWNER}/arenakit-wheels", f"{OWNER}/arenakit-weights"]

    # push uploads it as the other datasets: a new version when Kaggle has it, each model folder one zip.
    with KaggleStub(existing_datasets={f"{OWNER}/arenakit-models"}) as stub:
        check(
            build_py(
                "push",
                "--build-dir",
                build,
                "--only",
                "arenakit-models",
                env={**isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY), **stub.env},
                cwd=tmp_path,
            )
        )
    (version,) = stub.bodies("CreateDatasetVersion")
    assert version["datasetSlug"] == "arenakit-models" and not stub.bodies("CreateDataset")
    assert stub.uploaded_names() == sorted(
        ["baseline.zip", "deberta_lora.zip", MODELS_MARKER, "folds.csv", "folds.json", "manifest.json"]
    )
    upload = next(u for u in stub.uploads.values() if u["name"] == "deberta_lora.zip")
    with zipfile.ZipFile(io.BytesIO(upload["data"])) as archive:
        assert {"oof.csv", "metrics.json", "folds/fold_1/model.json"} <= set(archive.namelist())


def test_named_models_only(trained_run):
    run = check_run(trained_run, ["deberta_lora"])
    assert run.names == ["deberta_lora"] and run.models["deberta_lora"]["folds_trained"] == [1]
    assert check_run(trained_run).names == ["baseline", "deberta_lora"]


def test_an_incomplete_or_mismatched_run_is_refused(trained_run, tmp_path):
    run = _copy_run(trained_run, tmp_path)
    oof = pd.read_csv(run / "baseline" / "oof.csv")
    oof.iloc[1:].to_csv(run / "baseline" / "oof.csv", index=False)
    with pytest.raises(BuildError) as error:
        check_run(run)
    assert str(error.value).startswith(
        f"{run / 'baseline' / 'oof.csv'} does not match {run / 'folds.csv'}: 1 row(s) of folds [0, 1, 2] have no "
        f"out-of-fold prediction (e.g. ids {oof['id'][0]}) and 0 prediction(s)"
    )
    # Naming only the sound model goes through.
    assert check_run(run, ["deberta_lora"]).names == ["deberta_lora"]

    # A fold whose training did not finish (no model.json), and a stray fold next to the recorded ones.
    (run / "deberta_lora" / "folds" / "fold_1" / "model.json").unlink()
    with pytest.raises(BuildError, match=r"fold_1 \(no model.json: its training did not finish\)"):
        check_run(run, ["deberta_lora"])
    shutil.copytree(
        trained_run / "deberta_lora" / "folds" / "fold_1", run / "deberta_lora" / "folds" / "fold_1", dirs_exist_ok=True
    )
    shutil.copytree(trained_run / "baseline" / "folds" / "fold_2", run / "deberta_lora" / "folds" / "fold_2")
    with pytest.raises(BuildError, match=r"metrics.json names folds \[1\] but .* holds folds \[1, 2\]"):
        check_run(run, ["deberta_lora"])

    with pytest.raises(BuildError, match=r"nothing: not a complete model folder"):
        check_run(run, ["nothing"])
    (run / "folds.csv").unlink()
    with pytest.raises(BuildError, match=r"no folds.csv and folds.json; .* give the run folder itself"):
        check_run(run)


def test_build_py_names_the_bad_run_and_builds_nothing(tmp_path_factory, trained_run, tmp_path):
    shared = shared_build(tmp_path_factory)
    run = _copy_run(trained_run, tmp_path)
    folds = pd.read_csv(run / "folds.csv")
    folds.assign(fold=(folds["fold"] + 1) % 3).to_csv(run / "folds.csv", index=False)  # other folds than trained
    completed = build_py(
        "datasets",
        "--build-dir",
        tmp_path / "build",
        "--wheels-dir",
        shared["wheels"],
        "--allow-dirty",
        "--models",
        run,
        "deberta_lora",
        env=isolated_env(tmp_path),
        cwd=tmp_path,
    )
    assert completed.returncode == 1
    assert (
        f"build.py datasets: {run / 'deberta_lora' / 'oof.csv'} does not match {run / 'folds.csv'}" in completed.stderr
    )
    assert "train it again in this run folder" in completed.stderr and "Traceback" not in completed.stderr
    assert not (tmp_path / "build").exists()
