"""The trained models an ensemble blends: each one's folder, out-of-fold predictions and fold models.

    members, problems = load_members(["baseline", "minilm_lgbm"], out_dir, train["id"])
    members[0].load(swap_average=False).predict_proba(test)    # the fold models, one setting overridden

A model whose folder is missing, whose files do not read or fail their checks, or whose fold
models do not load is left out with the reason (in `problems`), never silently: the caller says
so and goes on with the others. The checks: files that differ from the manifest.json of the
dataset they came in; predictions that are not probability rows, in oof.csv or test.csv; fold
folders other than those metrics.json names.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from arenakit.core.artifacts import FOLDS_DIR, OOF_FILE, TEST_FILE, load_metrics, load_prediction_frame
from arenakit.core.checksums import check_against_manifest
from arenakit.core.completion import check_complete
from arenakit.core.errors import counted
from arenakit.ensemble.model_folders import find_model_folder, saved_folds, where_searched
from arenakit.models.base import FoldEnsemble
from arenakit.models.protocol import configured


class MemberUnusable(RuntimeError):
    """A model cannot take part in the ensemble; the message says why and what to do."""


@dataclass
class Member:
    name: str
    folder: Path
    oof: pd.DataFrame  # out-of-fold predictions indexed by id: every train row, or a trained subset
    metrics: dict
    params: dict = field(default_factory=dict)  # get_params() of the first fold model, as saved
    load_seconds: float = 0.0  # how long the last load took
    # An unfitted copy of the first fold model as saved: what the model protocol is asked
    # (cheaper steps, cache), with no weights held.
    prototype: object = None
    _loaded: tuple | None = field(default=None, repr=False)  # (overrides, FoldEnsemble) of the last load

    def load(self, **overrides) -> FoldEnsemble:
        """The fold models with these parameter overrides; the last load is kept and reused."""
        # An override equal to the saved value changes nothing: drop it, so the kept load is reused.
        overrides = {
            key: value for key, value in overrides.items() if key not in self.params or self.params[key] != value
        }
        if self._loaded is not None and self._loaded[0] == overrides:
            return self._loaded[1]
        self.release()  # one loaded copy at a time: a big model's fold weights are not cheap to hold twice
        started = time.perf_counter()
        ensemble = FoldEnsemble.load(self.folder / FOLDS_DIR, **overrides)
        self.load_seconds = time.perf_counter() - started
        self._loaded = (dict(overrides), ensemble)
        self.params = ensemble.models[0].get_params(deep=False) if not self.params else self.params
        if self.prototype is None:
            self.prototype = configured(ensemble.models[0], {})
        return ensemble

    def release(self) -> None:
        """Drop the loaded fold models and give their GPU memory back before the next load: a 9B
        decoder's copy must leave a T4 before another (other settings, the next member) arrives."""
        self._loaded = None
        gc.collect()
        torch = sys.modules.get("torch")  # only a model that loaded torch can hold GPU memory
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def summary(self) -> dict:
        """A row for the table of models found."""
        return {
            "model": self.name,
            "folder": str(self.folder),
            "oof_rows": len(self.oof),
            "folds_trained": self.metrics.get("folds_trained", self.metrics.get("n_folds")),
            "oof_log_loss": self.metrics.get("oof_log_loss"),
            "class": self.metrics.get("model"),
        }


def load_member(name: str, out_dir: Path | str, train_ids) -> Member:
    """One model's artifacts, checked against this train.csv, with its fold models loaded once."""
    folder = find_model_folder(name, out_dir)
    if folder is None:
        raise MemberUnusable(
            f"no model folder found (looked in {where_searched(name, out_dir)}); "
            f"run its notebook first, or attach its output on Kaggle"
        )
    try:
        check_against_manifest(folder)  # a dataset built by build.py: its files as they were uploaded
        oof = load_prediction_frame(folder / OOF_FILE)
        if (folder / TEST_FILE).is_file():  # held to the same rules: the run compares against it
            load_prediction_frame(folder / TEST_FILE)
        metrics = load_metrics(folder)
        saved_folds(folder, metrics)
        check_complete(folder)  # then: an unfinished or mixed save is refused, naming the file
    except (OSError, ValueError) as error:
        raise MemberUnusable(f"artifacts in {folder} cannot be used: {error}") from error
    unknown = oof.index.difference(pd.Index(train_ids))
    if oof.empty:
        raise MemberUnusable(f"{folder / OOF_FILE} holds no rows. Re-run its notebook on this data folder.")
    if len(unknown):
        raise MemberUnusable(
            f"{folder / OOF_FILE} holds {counted(unknown, 'id(s) that are not in this train.csv')} and "
            f"{len(oof) - len(unknown)} that are: it was trained on other data. Re-run its notebook on this "
            "data folder."
        )
    member = Member(name, folder, oof, metrics)
    try:
        member.load()
    except Exception as error:  # whatever the model raises (missing weights, version, import): report it
        raise MemberUnusable(
            f"fold models in {folder / FOLDS_DIR} failed to load: {type(error).__name__}: {error}"
        ) from error
    return member


def start_overrides(members, swap_average: bool, inference: Mapping | None = None) -> dict[str, dict]:
    """The settings inference starts from, per member: swap-averaging as asked, where the model has it,
    then the member's entry in `inference`: a profile name (its inference settings, e.g.
    "decoder_2xt4") or a dict of settings, e.g. {"deberta_lora": {"max_length": 2048}}."""
    from arenakit.models.lora.profiles import inference_settings

    start = {m.name: ({"swap_average": swap_average} if "swap_average" in m.params else {}) for m in members}
    for member in members:
        given = (inference or {}).get(member.name)
        settings = inference_settings(given) if isinstance(given, str) else dict(given or {})
        unknown = sorted(set(settings) - set(member.params))
        if unknown:
            raise ValueError(
                f"inference settings for {member.name}: {', '.join(unknown)} is not a setting of its model "
                f"({member.metrics.get('model', 'unknown class')}); its settings are {', '.join(sorted(member.params))}"
            )
        start[member.name].update(settings)
    return start


def load_members(names, out_dir: Path | str, train_ids) -> tuple[list[Member], dict[str, str]]:
    """The usable members in the given order, and for each unusable one (by name) the reason."""
    members, problems = [], {}
    for name in names:
        try:
            members.append(load_member(name, out_dir, train_ids))
        except MemberUnusable as error:
            problems[name] = str(error)
    return members, problems
