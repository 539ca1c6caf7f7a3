"""Settings are never silently misread: one declaration per setting, one precedence, errors that say where from."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from arenakit.core.parameters import parse_parameter
from arenakit.core.settings import (
    SettingError,
    boolean,
    check_settings,
    choice,
    integer,
    list_of,
    real,
    resolve_settings,
)
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.ensemble.members import Member, start_overrides
from arenakit.ensemble.run import ENSEMBLE_SETTINGS, EnsembleRun
from arenakit.kaggle_build.runner import run_pipeline
from arenakit.models.base import load_model
from arenakit.models.baseline import BaselineModel
from arenakit.models.lora.profiles import resolve_settings as resolve_lora_settings
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.pipeline.notebooks import NOTEBOOK_SOURCE, RUN_SETTINGS, check_parameters
from arenakit.train.__main__ import main as train_main
from conftest import REPO_ROOT

DECLARED = {
    "flag": boolean(),
    "n": integer(2, 10),
    "rate": real(0, 1, above=True),
    "mode": choice("a", "b", optional=True, none="the default mode"),
    "folds": list_of(integer(0), optional=True),
}


@pytest.fixture(scope="module")
def train(synthetic_dir):
    return load_competition(synthetic_dir).train


def test_values_are_taken_as_they_are_and_refused_with_name_value_allowed_and_source():
    assert check_settings({"flag": False, "n": 10, "rate": 1, "folds": (0, 2)}, DECLARED, "here") == {
        "flag": False,
        "n": 10,
        "rate": 1.0,
        "folds": [0, 2],
    }
    cases = {
        "flag": ("flase", r"flag='flase' from command line -p: flag takes True or False \(without quotes\)"),
        "n": ("abc", "n='abc' from command line -p: n takes an integer from 2 to 10"),
        "rate": (0, "rate=0 from command line -p: rate takes a number above 0"),
        "mode": ("c", r"mode='c' .*one of 'a', 'b' or None \(the default mode\)"),
        "folds": ([0, -1], r"folds=\[0, -1\] .*a list, each item an integer from 0 up"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(SettingError, match=message):
            check_settings({name: value}, DECLARED, "command line -p")
    for not_a_boolean in (1, "no", "True", None):
        with pytest.raises(SettingError, match="flag takes True or False"):
            check_settings({"flag": not_a_boolean}, DECLARED, "x")
    with pytest.raises(SettingError, match="unknown setting.*colour from x; known: flag, folds, mode, n, rate"):
        check_settings({"colour": 1}, DECLARED, "x")


def test_command_line_values_are_literals_or_their_own_text():
    assert parse_parameter("n_folds=3") == ("n_folds", 3)
    assert parse_parameter("swap_augment=False") == ("swap_augment", False)
    assert parse_parameter("swap_augment=flase") == ("swap_augment", "flase")  # text, refused where it is checked
    assert parse_parameter("folds_to_train=[0, 1]") == ("folds_to_train", [0, 1])


def test_one_precedence_explicit_beats_profile_beats_default():
    defaults, profile = {"flag": True, "n": 2, "mode": None}, {"flag": True, "n": 5}
    assert resolve_settings(DECLARED, {"flag": False, "n": None}, "notebook", profile, defaults) == {
        "flag": False,  # explicit False beats the profile's True
        "n": 5,  # None is "not given": the profile's
        "mode": None,  # neither: the default
    }
    with pytest.raises(SettingError, match="n=99 from profile 'p'"):
        resolve_settings(DECLARED, {}, "notebook", {"n": 99}, defaults, "profile 'p'")


def test_the_lora_notebook_value_beats_the_profile(monkeypatch):
    notebook = {"profile": "decoder_2xt4", "swap_average": False, "max_length": None, "architecture": "cross_encoder"}
    settings = resolve_lora_settings(notebook, NOTEBOOK_SOURCE)
    assert (
        settings["swap_average"] is False and settings["max_length"] == 2048
    )  # explicit wins; None takes the profile's
    assert resolve_lora_settings({"architecture": "siamese"}, "x", device="cpu")["swap_augment"] is False
    with pytest.raises(SettingError, match="max_length='abc' from command line -p: max_length takes an integer"):
        resolve_lora_settings({"max_length": "abc"}, "command line -p")
    with pytest.raises(SettingError, match="swap_augment='flase' from notebook parameter"):
        resolve_lora_settings({"swap_augment": "flase"}, NOTEBOOK_SOURCE)
    with pytest.raises(SettingError, match="quantize='4bit' from profile 'decoder_train'"):
        resolve_lora_settings({"architecture": "siamese", "profile": "decoder_train"}, "x")


@pytest.mark.parametrize(
    "model, name, value, message",
    [
        (BaselineModel, "swap_augment", "flase", "swap_augment='flase' .*True or False"),
        (BaselineModel, "C", "abc", "C='abc' .*a number above 0 or None"),
        (BaselineModel, "seed", -1, "seed=-1 .*an integer from 0 up"),
        (MiniLMLightGBMModel, "swap_average", "no", "swap_average='no' .*True or False"),
        (MiniLMLightGBMModel, "precision", "fp8", "precision='fp8' .*'fp32', 'fp16', 'bf16', 'int8'"),
    ],
)
def test_models_check_their_parameters_at_fit(train, model, name, value, message):
    with pytest.raises(SettingError, match=f"{message}"):
        model(**{name: value}).fit(train.iloc[:30])


def test_a_saved_model_with_a_wrong_value_names_its_file(train, tmp_path):
    folder = BaselineModel(Cs=(1.0,), inner_folds=2).fit(train.iloc[:60]).save(tmp_path / "fold_0")
    record = json.loads((folder / "model.json").read_text())
    record["params"]["swap_average"] = "no"
    (folder / "model.json").write_text(json.dumps(record))
    with pytest.raises(SettingError, match=f"swap_average='no' from saved model {folder / 'model.json'}"):
        load_model(folder)
    with pytest.raises(SettingError, match="unknown setting.*max_length from the load of"):
        load_model(folder, max_length=128)


def test_notebook_parameters_are_checked_by_the_declarations(tmp_path):
    namespace = {"n_folds": "abc", "seed": 0, "C": None, "out_dir": ".", "unrelated": object()}
    with pytest.raises(SettingError, match=r"n_folds='abc' from notebook parameter .*n_folds takes an integer from 2"):
        check_parameters(namespace, RUN_SETTINGS, BaselineModel.declared_settings)
    for name, value, message in (("seed", -1, "an integer from 0 up"), ("C", "abc", "a number above 0")):
        with pytest.raises(SettingError, match=f"{name}={value!r} from notebook parameter.*{message}"):
            check_parameters({**namespace, "n_folds": 5, name: value}, RUN_SETTINGS, BaselineModel.declared_settings)
    for value, shown in (([("deberta_lora", "decoder_2xt4")], r"\[\("), (3, "3")):
        with pytest.raises(SettingError, match=f"inference={shown}.*inference takes a dict or None"):
            check_parameters({"inference": value}, ENSEMBLE_SETTINGS)


def test_n_folds_runs_from_2_to_the_number_of_prompts(train, tmp_path):
    rows = train.iloc[:200]
    n_prompts = rows["prompt"].nunique()
    with pytest.raises(SettingError, match=f"n_folds=10000: the 200 training rows hold {n_prompts} distinct prompts"):
        shared_folds(tmp_path, rows, n_folds=10000)
    assert not (tmp_path / "folds.csv").exists()  # refused before anything was made
    with pytest.raises(SettingError, match="seed=-1"):
        shared_folds(tmp_path, rows, n_folds=3, seed=-1)
    assert shared_folds(tmp_path, rows, n_folds=n_prompts).max() == n_prompts - 1


def test_the_ensemble_refuses_inference_for_models_outside_the_run_and_wrong_values(synthetic_dir, tmp_path):
    competition = load_competition(synthetic_dir)
    with pytest.raises(
        SettingError, match="inference= names 'baselin', not a model of this run; its models are 'baseline'"
    ):
        EnsembleRun(tmp_path, competition, models=["baseline"], inference={"baselin": {"swap_average": False}})
    with pytest.raises(SettingError, match="inference=\\['x'\\]: inference takes a dict"):
        EnsembleRun(tmp_path, competition, models=["baseline"], inference=["x"])
    with pytest.raises(SettingError, match="inference\\['baseline'\\]=3: a model takes a profile name"):
        EnsembleRun(tmp_path, competition, models=["baseline"], inference={"baseline": 3})
    baseline = Member("baseline", tmp_path, pd.DataFrame(), {}, BaselineModel().settings(), BaselineModel)
    with pytest.raises(
        SettingError, match="swap_average='no' from inference= for baseline: swap_average takes True or False"
    ):
        start_overrides([baseline], True, {"baseline": {"swap_average": "no"}})


def test_the_run_folder_is_set_once(tmp_path):
    with pytest.raises(ValueError, match="-p out_dir='elsewhere'.*use --out instead"):
        run_pipeline(REPO_ROOT / "notebooks", tmp_path, names=["baseline"], parameters={"out_dir": "elsewhere"})


def test_a_misspelt_boolean_stops_the_notebook_at_its_parameters(synthetic_dir, tmp_path):
    from arenakit.kaggle_build.runner import NotebookFailed

    with pytest.raises(NotebookFailed, match="swap_augment='flase' from notebook parameter"):
        run_pipeline(
            REPO_ROOT / "notebooks",
            tmp_path,
            data_dir=synthetic_dir,
            names=["baseline"],
            parameters={"swap_augment": "flase"},
        )
    assert not (tmp_path / "baseline").exists()  # nothing trained


def test_the_training_command_names_the_setting_and_says_when_the_data_is_synthetic(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARENAKIT_KAGGLE_INPUT", str(tmp_path / "no-kaggle-input"))
    assert train_main(["lora", "--out", str(tmp_path / "run"), "-p", "max_length=abc"]) == 1
    err = capsys.readouterr().err
    assert "SYNTHETIC sample" in err and "--data-dir" in err
    assert "max_length='abc' from command line -p: max_length takes an integer from 8 up" in err
    assert train_main(["lora", "--out", str(tmp_path / "run"), "-p", "swap_augment=flase"]) == 1
    assert "swap_augment='flase' from command line -p" in capsys.readouterr().err
    assert not (tmp_path / "run" / "deberta_lora").exists()
