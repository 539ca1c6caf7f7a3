"""The model protocol (arenakit.models.protocol): what the ensemble, its budget and timer may know about a model.

A model kind the ensemble has never seen (WordCountModel below, defined and registered here only)
is timed, budgeted, shortened and given a fresh cache through the protocol, with no change in
arenakit.ensemble: nothing there reads a parameter by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenakit.core.schema import N_CLASSES
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.ensemble import EnsembleRun
from arenakit.ensemble.benchmark import benchmark
from arenakit.models.base import ArenaModel, register_model_class, training_labels
from arenakit.models.baseline import BaselineModel
from arenakit.models.lora.cross_encoder import CrossEncoderClassifier
from arenakit.models.lora.siamese_classifier import SiameseClassifier
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.models.protocol import CacheInfo, CheaperStep, configured
from arenakit.pipeline.cv import cross_validate

ENSEMBLE_SOURCES = sorted((Path(__file__).parents[1] / "lib" / "arenakit" / "ensemble").glob("*.py"))


@register_model_class
class WordCountModel(ArenaModel):
    """A new model kind: the longer response (counted in its first max_words words) wins, by a learned margin.

    Its token cap is named max_words and its cache scratch_dir, names the ensemble has never seen.
    Each prediction notes the scratch folder it ran with (seen_scratch) so the test can check the timer's.
    """

    token_cap_param = "max_words"
    inference_params = frozenset({"swap_average", "max_words", "scratch_dir"})
    _fitted_attribute = "prior_"
    seen_scratch: list = []

    def __init__(self, *, max_words: int = 1024, swap_average: bool = True, scratch_dir: str | None = None):
        self.max_words = max_words
        self.swap_average = swap_average
        self.scratch_dir = scratch_dir

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> WordCountModel:
        labels = training_labels(frame, y)
        self.prior_ = np.bincount(labels, minlength=N_CLASSES) / len(labels)
        return self

    def _words(self, column: str, frame: pd.DataFrame) -> np.ndarray:
        return np.array([min(len(" ".join(map(str, turns)).split()), self.max_words) for turns in frame[column]])

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        WordCountModel.seen_scratch.append(self.scratch_dir)
        lead = np.tanh((self._words("response_turns_a", frame) - self._words("response_turns_b", frame)) / 100)
        proba = np.tile(self.prior_, (len(frame), 1))
        proba[:, 0] += 0.1 * lead
        proba[:, 1] -= 0.1 * lead
        return np.clip(proba, 1e-3, None) / np.clip(proba, 1e-3, None).sum(axis=1, keepdims=True)

    def cache_info(self) -> CacheInfo | None:
        return CacheInfo("scratch_dir", "nothing it reads back: it only notes the folder", self.scratch_dir or "")

    def _save_state(self, folder: Path) -> dict:
        return {"prior": self.prior_.tolist()}

    def _load_state(self, folder: Path, extras: dict) -> None:
        self.prior_ = np.asarray(extras["prior"], dtype=float)


def named_in_code(path: Path, names: tuple) -> list[tuple[str, str]]:
    """(file, name) for each name used as a string or a keyword in path's code (docstrings and comments aside)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node) is not None
    }
    used = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings}
    used |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.keyword)}
    return [(path.name, name) for name in names if name in used]


def test_the_ensemble_reads_no_model_parameter_by_name():
    """The protocol is the only way in: no model parameter's name appears in arenakit/ensemble's code."""
    names = ("architecture", "max_length", "max_seq_length", "swap_average", "cache_dir")
    found = [hit for path in ENSEMBLE_SOURCES for hit in named_in_code(path, names)]
    # swap_average is also the ensemble notebook's own setting: run.py declares and checks it, and
    # members.start_overrides resolves it over each model's profile (issue 20 item 3).
    assert sorted(found) == [("members.py", "swap_average"), ("run.py", "swap_average")]


def test_a_new_model_kind_is_budgeted_and_timed_with_no_change_in_the_ensemble(tmp_path, synthetic_dir):
    competition = load_competition(synthetic_dir)
    train = competition.train.head(120).reset_index(drop=True)
    folds = shared_folds(tmp_path, train, n_folds=2, seed=0)
    cross_validate(WordCountModel(), train, folds, name="word_count", progress=False).save(tmp_path, train)

    run = EnsembleRun(tmp_path, competition, models=["word_count"], time_budget_s=1e-6)
    run.plan_budget(timing_rows=4, min_tokens=256)
    # Over any budget, it gives up what it offers, in the protocol's order, down to the floor.
    given_up = [step.split(": ", 1)[1].split(";")[0] for step in run.plan.steps[:-1]]
    assert given_up == [
        "swap-averaging off for word_count",
        "token cap 1024 -> 512 for word_count",
        "token cap 512 -> 256 for word_count",
    ]
    assert run.plan.overrides["word_count"] == {"swap_average": False, "max_words": 256}
    assert "runs anyway, as the last model left" in run.plan.steps[-1]

    # The benchmark times it with a fresh scratch folder of the timer's, named by its cache_info.
    WordCountModel.seen_scratch.clear()
    benchmark(run.members, competition, n_rows=1000, timing_rows=4)
    assert WordCountModel.seen_scratch and all("arenakit-timing-" in str(seen) for seen in WordCountModel.seen_scratch)


def test_minilm_token_cap_is_max_seq_length_resolved_per_device():
    assert MiniLMLightGBMModel(max_seq_length=512).cheaper_steps()[-1] == CheaperStep(
        "token_cap", "token cap 512 -> 256", {"max_seq_length": 256}
    )
    # Unset, the cap is what the model resolves for its device: 128 on a CPU, 256 on a GPU.
    assert MiniLMLightGBMModel(device="cpu").token_cap() == 128
    assert MiniLMLightGBMModel(device="cpu", cache_dir="")._embedder().max_seq_length == 128  # what it embeds at
    assert MiniLMLightGBMModel(device="cpu").cheaper_steps(min_tokens=64)[-1].settings == {"max_seq_length": 64}
    assert MiniLMLightGBMModel(device="cuda").token_cap() == 256


def test_cheaper_steps_follow_the_current_settings():
    model = CrossEncoderClassifier.from_settings({"max_length": 1024})
    kinds = [step.kind for step in model.cheaper_steps()]
    assert kinds == ["swap_average", "token_cap"]
    # Once swap-averaging is off and the cap is at the floor, nothing is left to give up.
    assert configured(model, {"swap_average": False, "max_length": 256}).cheaper_steps(256) == []
    # 300 tokens halve to the floor, not below it.
    assert configured(model, {"max_length": 300}).cheaper_steps(256)[-1].settings == {"max_length": 256}
    assert SiameseClassifier().symmetric and not model.symmetric
    assert [step.kind for step in SiameseClassifier().cheaper_steps(128)] == ["token_cap"]
    assert BaselineModel().cheaper_steps() == [
        CheaperStep("swap_average", "swap-averaging off", {"swap_average": False})
    ]
    assert BaselineModel(swap_average=False).cheaper_steps() == []


def test_cache_info_names_the_folder_in_use(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENAKIT_CACHE", str(tmp_path))
    assert MiniLMLightGBMModel().cache_info() == CacheInfo(
        "cache_dir",
        "sentence embeddings, keyed by model, formatter version, max_seq_length, precision and text",
        str(tmp_path / "embeddings"),
    )
    assert MiniLMLightGBMModel(cache_dir=str(tmp_path / "mine")).cache_info().where == str(tmp_path / "mine")
    assert MiniLMLightGBMModel(cache_dir="").cache_info() is None  # caching off
    assert BaselineModel().cache_info() is None and CrossEncoderClassifier().cache_info() is None


def test_inference_params_are_parameters_of_the_model():
    for model in (BaselineModel(), MiniLMLightGBMModel(), CrossEncoderClassifier()):
        assert model.inference_params <= set(model.settings()), type(model).__name__
        assert model.token_cap_param is None or model.token_cap_param in model.inference_params


def test_a_step_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="CheaperStep kind 'fewer_rows' is not one of swap_average, token_cap"):
        CheaperStep("fewer_rows", "fewer rows", {})
