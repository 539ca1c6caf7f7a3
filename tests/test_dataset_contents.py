"""What a dataset build.py makes may carry: only files the kit wrote, never what a link points at (issue 21 item 1)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from arenakit.core.completion import COMPLETE_FILE
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.data.synthetic import write_sample
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.bootstrap import WHEELS_MARKER
from arenakit.kaggle_build.datasets import build_wheels_dataset
from arenakit.kaggle_build.manifest import SourceState, write_manifest
from arenakit.kaggle_build.models_dataset import check_run, stage_models
from arenakit.kaggle_build.settings import KaggleSettings
from arenakit.kaggle_build.weights import BackboneSource, stage_backbone
from arenakit.models.baseline import BaselineModel
from arenakit.pipeline.cv import cross_validate
from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run folder with one baseline model on 3 folds, with its plots."""
    base = tmp_path_factory.mktemp("contents-run")
    competition = load_competition(write_sample(base / "data", n_train=60, n_test=6, seed=3))
    run = base / "run"
    folds = shared_folds(run, competition.train, n_folds=3, seed=0)
    cv = cross_validate(BaselineModel(C=1.0), competition.train, folds, test=competition.test, name="baseline")
    cv.plots(competition.train, run)
    cv.save(run, competition.train, competition.test)
    return run


@pytest.fixture
def run(saved_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(saved_run, copy)
    return copy


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"username": "me", "key": "not-to-upload"}')
    return path


@pytest.mark.parametrize(
    "link, target",
    [
        ("baseline/plots/x.png", "secret"),  # a link out of the run folder
        ("baseline/folds/fold_0/baseline.npz", "baseline/folds/fold_1/baseline.npz"),  # even one inside it
        ("baseline/checkpoints", "secret-folder"),  # even in a folder that is never copied
        ("folds.json", "secret"),  # the run's own folds files
    ],
)
def test_every_link_is_refused_naming_it_and_its_target(run, secret, link, target):
    goal = {"secret": secret, "secret-folder": secret.parent}.get(target, run / target)
    path = run / link
    path.unlink(missing_ok=True)
    path.symlink_to(goal)
    with pytest.raises(BuildError) as error:
        check_run(run)
    assert str(error.value).startswith(f"{path}: a link to {goal} (resolving to {goal.resolve()}); a dataset carries")
    assert "replace the link by the file itself, or remove it" in str(error.value)


def test_only_what_the_save_wrote_is_copied_and_a_stray_file_is_listed_with_its_size(run, tmp_path):
    stray = run / "baseline" / "folds" / "fold_0" / "huge.bin"
    with open(stray, "wb") as handle:  # 150 MB, sparse: cheap on disk
        handle.truncate(150 * 1024 * 1024)
    (run / "baseline" / "notes.txt").write_text("scratch")
    (run / "baseline" / "checkpoints" / "fold_0").mkdir(parents=True)
    (run / "baseline" / "checkpoints" / "fold_0" / "checkpoint.pt").write_bytes(b"x" * 10)
    into = tmp_path / "dataset"
    notes = stage_models(check_run(run), into)
    assert notes == [
        f"{run / 'baseline' / 'checkpoints'} left out (10 bytes): not a file the model's save wrote "
        "(training state, a stray file)",
        f"{stray} left out (157,286,400 bytes): not a file the model's save wrote (training state, a stray file)",
        f"{run / 'baseline' / 'notes.txt'} left out (7 bytes): not a file the model's save wrote "
        "(training state, a stray file)",
    ]
    write_manifest(into, SourceState("abc", False))
    copied = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())
    fold = [f"baseline/folds/fold_0/{name}" for name in ("baseline.npz", "model.json")]
    assert [name for name in copied if name.startswith("baseline/folds/fold_0/")] == fold
    record = json.loads((run / "baseline" / COMPLETE_FILE).read_text())["files"]
    plots = sorted(
        f"baseline/{p.relative_to(run / 'baseline').as_posix()}" for p in (run / "baseline" / "plots").glob("*.png")
    )
    assert len(plots) == 3
    assert copied == sorted(
        [*(f"baseline/{name}" for name in record), f"baseline/{COMPLETE_FILE}", *plots]
        + ["folds.csv", "folds.json", "arenakit-models.json", "manifest.json"]
    )
    # The manifest lists exactly what was copied.
    manifest = json.loads((into / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [name for name in copied if name != "manifest.json"]


def test_a_folder_whose_save_did_not_finish_or_that_has_no_record_is_refused(run):
    record = run / "baseline" / COMPLETE_FILE
    record.write_text('{"complete": false}')
    with pytest.raises(BuildError, match=rf"^{record}: the save of this model folder did not finish"):
        check_run(run)
    record.unlink()
    with pytest.raises(BuildError, match=rf"^{run / 'baseline'}: no complete.json, .* run its notebook again"):
        check_run(run)


def _backbone(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_a_backbone_folder_with_a_link_is_refused_but_the_hugging_face_cache_layout_is_copied(tmp_path, secret):
    folder = _backbone(tmp_path / "deberta")
    (folder / "tokenizer.json").symlink_to(secret)
    with pytest.raises(BuildError, match=rf"^{folder / 'tokenizer.json'}: a link to {secret} "):
        stage_backbone(BackboneSource("x/deberta", folder, True), tmp_path / "staging")

    # The cache: snapshots/<rev>/<file> -> ../../blobs/<hash>, inside the model's own cache folder.
    cache = tmp_path / "hub" / "models--x--tiny"
    blobs = _backbone(cache / "blobs")
    snapshot = cache / "snapshots" / "rev1"
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (snapshot / name).symlink_to(Path("../../blobs") / name)
    staged = stage_backbone(BackboneSource("x/tiny", snapshot, True), tmp_path / "staging")
    assert (staged / "model.safetensors").read_bytes() == b"weights" and not (staged / "config.json").is_symlink()
    # ... but not a link from the cache to elsewhere.
    (snapshot / "tokenizer.json").symlink_to(secret)
    with pytest.raises(BuildError, match=rf"{snapshot / 'tokenizer.json'}: a link to {secret}"):
        stage_backbone(BackboneSource("x/tiny", snapshot, True), tmp_path / "staging2")
    assert not blobs.joinpath("tokenizer.json").exists()


def test_a_wheel_that_is_a_link_or_lies_outside_the_wheels_folder_is_refused(tmp_path, secret):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "six-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (wheels / "evil-1.0-py3-none-any.whl").symlink_to(secret)
    outside = tmp_path / "other-1.0-py3-none-any.whl"
    outside.write_bytes(b"wheel")
    settings = KaggleSettings.read(REPO_ROOT / "kernel-metadata.json", owner="tester", from_env=False)
    for listed, refused in (
        ("evil-1.0-py3-none-any.whl", rf"{wheels / 'evil-1.0-py3-none-any.whl'}: a link to {secret}"),
        (
            "../other-1.0-py3-none-any.whl",
            rf"{wheels / '../other-1.0-py3-none-any.whl'}: resolves to {outside}, outside",
        ),
    ):
        marker = {"wheels": ["six-1.0-py3-none-any.whl", listed], "unmet": [], "notes": []}
        (wheels / WHEELS_MARKER).write_text(json.dumps(marker))
        with pytest.raises(BuildError, match=refused.replace(".", r"\.")):
            build_wheels_dataset(settings, wheels, tmp_path / "build", SourceState("abc", False))
    assert os.listdir(wheels)  # nothing removed from the source
