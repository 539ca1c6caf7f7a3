"""Saved model folders are data: only kit classes load, no path is taken from them, damage is named."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from arenakit.core.errors import ArtifactError
from arenakit.data import load_competition
from arenakit.models.base import FoldEnsemble, load_model, register_model_class
from arenakit.models.baseline import BaselineModel
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel


@pytest.fixture(scope="module")
def frame(synthetic_dir):
    return load_competition(synthetic_dir).train


@pytest.fixture(scope="module")
def fitted(frame):
    return BaselineModel(C=0.1).fit(frame.iloc[:200])


@pytest.fixture
def ensemble_dir(fitted, tmp_path):
    return FoldEnsemble([fitted, fitted], [0, 1]).save(tmp_path / "baseline" / "folds")


def test_estimators_take_keywords_and_refuse_to_predict_unfitted(frame):
    with pytest.raises(TypeError):
        BaselineModel(0.1)
    with pytest.raises(NotFittedError, match="BaselineModel instance is not fitted yet"):
        BaselineModel().predict_proba(frame.iloc[:3])
    with pytest.raises(NotFittedError, match="not fitted"):
        MiniLMLightGBMModel().predict_one_order(frame.iloc[:3])


def test_a_model_json_naming_foreign_code_imports_nothing(fitted, tmp_path, monkeypatch):
    folder = fitted.save(tmp_path / "fold_0")
    # A payload module beside model.json, on sys.path as papermill puts the run folder there.
    (folder / "payload.py").write_text("import pathlib\npathlib.Path(__file__).with_name('RAN').touch()\n")
    monkeypatch.syspath_prepend(str(folder))
    record = json.loads((folder / "model.json").read_text())
    for name in ("payload.Model", "os.system", "arenakit.models.base.ArenaModel", "sklearn.linear_model.Ridge"):
        (folder / "model.json").write_text(json.dumps({**record, "class": name}))
        with pytest.raises(ArtifactError, match="not one of the kit's .*no other code is imported"):
            load_model(folder)
    assert not (folder / "RAN").exists() and "payload" not in sys.modules


def test_a_users_own_model_class_loads_once_registered(frame, tmp_path):
    @register_model_class
    class MyBaseline(BaselineModel):
        pass

    folder = MyBaseline(C=0.1).fit(frame.iloc[:100]).save(tmp_path / "mine")
    assert type(load_model(folder)) is MyBaseline
    with pytest.raises(TypeError, match="not a subclass"):
        register_model_class(dict)
    impostor = type("BaselineModel", (MyBaseline,), {})  # the kit's name: every saved baseline would load as it
    with pytest.raises(ValueError, match="BaselineModel is a kit model class's name"):
        register_model_class(impostor)
    assert type(load_model(BaselineModel(C=0.1).fit(frame.iloc[:100]).save(tmp_path / "kit"))) is BaselineModel


def test_paths_in_a_saved_model_json_are_not_used(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(MiniLMLightGBMModel, "_load_state", lambda self, folder, extras: seen.update(vars(self)))
    folder = tmp_path / "fold_0"
    folder.mkdir()
    hostile = {"cache_dir": "/etc/somewhere", "model_path": "/tmp/hostile-model"}
    record = {"class": "MiniLMLightGBMModel", "params": {**MiniLMLightGBMModel().get_params(), **hostile}, "state": {}}
    (folder / "model.json").write_text(json.dumps(record))
    load_model(folder)
    assert seen["cache_dir"] is None and seen["model_path"] is None  # the defaults, not the saved paths
    load_model(folder, cache_dir=str(tmp_path / "cache"))
    assert seen["cache_dir"] == str(tmp_path / "cache")  # the caller's choice


def test_fold_ensemble_loads_only_fold_folders(ensemble_dir, frame):
    loaded = FoldEnsemble.load(ensemble_dir)
    assert loaded.fold_ids == [0, 1]
    (ensemble_dir / "README.txt").write_text("notes are ignored")
    assert FoldEnsemble.load(ensemble_dir).fold_ids == [0, 1]
    stray = ensemble_dir / "fold_0_old"
    stray.mkdir()
    with pytest.raises(ArtifactError, match=r"fold_0_old: stray entry .*move it out"):
        FoldEnsemble.load(ensemble_dir)
    stray.rmdir()
    (ensemble_dir / "fold_notes.txt").write_text("x")
    with pytest.raises(ArtifactError, match="fold_notes.txt: stray entry"):
        FoldEnsemble.load(ensemble_dir)
    (ensemble_dir / "fold_notes.txt").unlink()
    (ensemble_dir / "fold_1").rename(ensemble_dir / "fold_00")
    with pytest.raises(ArtifactError, match="are both fold 0: keep one"):
        FoldEnsemble.load(ensemble_dir)


def test_fold_ensemble_refuses_links_leaving_the_folder(ensemble_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    (ensemble_dir / "fold_1").rename(outside)
    (ensemble_dir / "fold_1").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ArtifactError, match="fold_1: a link to .*elsewhere, outside"):
        FoldEnsemble.load(ensemble_dir)
    (ensemble_dir / "fold_1").unlink()
    outside.rename(ensemble_dir / "fold_1")
    state = ensemble_dir / "fold_1" / "baseline.npz"
    state.rename(tmp_path / "baseline.npz")
    state.symlink_to(tmp_path / "baseline.npz")
    with pytest.raises(ArtifactError, match="baseline.npz: a link to"):
        FoldEnsemble.load(ensemble_dir)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "model.json").write_text('{"class": "BaselineModel", "params": {'), "not readable as"),
        (lambda f: (f / "model.json").write_text("[1, 2]"), "must be a JSON object"),
        (lambda f: (f / "model.json").write_text('{"class": "BaselineModel"}'), "params, state are missing"),
        (lambda f: (f / "baseline.npz").write_bytes(b"PK\x03\x04 truncated"), "baseline.npz: not a readable array"),
        (lambda f: np.savez(f / "baseline.npz", mean=np.zeros(2)), "no array.*scale, coef, intercept"),
        (
            lambda f: np.savez(
                f / "baseline.npz", mean=np.zeros(2), scale=np.zeros(2), coef=np.zeros((3, 2)), intercept=np.zeros(3)
            ),
            "arrays of the wrong shape",
        ),  # fmt: skip
        (lambda f: edit_state(f, "columns"), "damaged or incomplete .*KeyError"),
        (lambda f: edit_params(f, {"C": 0.1, "no_such_param": 1}), "do not fit BaselineModel"),
    ],
)
def test_damaged_files_are_named(fitted, tmp_path, damage, message):
    folder = fitted.save(tmp_path / "fold_0")
    damage(folder)
    with pytest.raises(ArtifactError, match=message) as error:
        load_model(folder)
    assert str(folder) in str(error.value)


def edit_state(folder, drop: str) -> None:
    record = json.loads((folder / "model.json").read_text())
    del record["state"][drop]
    (folder / "model.json").write_text(json.dumps(record))


def edit_params(folder, params: dict) -> None:
    record = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**record, "params": params}))
