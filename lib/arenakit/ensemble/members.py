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

from arenakit.core.artifacts import FOLDS_DIR, OOF_FILE, ORDER_FILES, TEST_FILE, load_metrics, load_prediction_frame
from arenakit.core.checksums import check_against_manifest
from arenakit.core.completion import check_complete
from arenakit.core.errors import counted
from arenakit.core.settings import SettingError, anything, resolve_settings
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
    params: dict = field(default_factory=dict)  # settings() of the first fold model, as saved
    model_type: type | None = None  # the fold models' class
    load_seconds: float = 0.0  # how long the last load took
    # An unfitted copy of the first fold model as saved: what the model protocol is asked
    # (cheaper steps, cache), with no weights held.
    prototype: object = None
    # A swap-averaged model's out-of-fold predictions in each order (one order, swapped pass mapped back),
    # indexed by id like oof; None when its folder holds none (trained one-order, symmetric, or before the kit saved them).
    oof_orders: tuple[pd.DataFrame, pd.DataFrame] | None = None
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
        self.params = ensemble.models[0].settings() if not self.params else self.params
        self.model_type = self.model_type or type(ensemble.models[0])
        if self.prototype is None:
            self.prototype = configured(ensemble.models[0], {})
        return ensemble

    def inference_settings(self) -> dict:
        """The settings this model takes anew at inference, each with its declared type (any: undeclared)."""
        declared = getattr(self.model_type, "declared_settings", {})
        names = getattr(self.model_type, "inference_params", None) or set(self.params)
        return {name: declared.get(name, anything()) for name in sorted(names) if name in self.params}

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
        orders = None
        if all((folder / file).is_file() for file in ORDER_FILES):
            orders = tuple(load_prediction_frame(folder / file) for file in ORDER_FILES)
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
    member = Member(name, folder, oof, metrics, oof_orders=orders)
    try:
        member.load()
    except Exception as error:  # whatever the model raises (missing weights, version, import): report it
        raise MemberUnusable(
            f"fold models in {folder / FOLDS_DIR} failed to load: {type(error).__name__}: {error}"
        ) from error
    return member


def check_inference(inference, names) -> dict:
    """The ensemble's inference= checked: None, or a dict whose keys are models of the run (names), each
    given a profile name or a dict of settings. A misspelt model name would leave its settings unapplied."""
    if inference is None:
        return {}
    if not isinstance(inference, Mapping):
        raise SettingError(
            f"inference={inference!r}: inference takes a dict from model name to a profile name or a dict of "
            "settings, e.g. {'deberta_lora': 'decoder_2xt4'} or {'deberta_lora': {'max_length': 1024}}, or None"
        )
    unknown = sorted(set(inference) - set(names))
    if unknown:
        raise SettingError(
            f"inference= names {', '.join(map(repr, unknown))}, not a model of this run; its models are "
            f"{', '.join(map(repr, names))}: correct the name, or the settings would not apply"
        )
    for name, entry in inference.items():
        if entry is not None and not isinstance(entry, (str, Mapping)):
            raise SettingError(
                f"inference[{name!r}]={entry!r}: a model takes a profile name (e.g. 'decoder_2xt4') or a dict of "
                "settings (e.g. {'max_length': 1024}, or {'profile': 'decoder_2xt4', 'max_length': 1024})"
            )
    return dict(inference)


def start_overrides(members, swap_average: bool | None, inference: Mapping | None = None) -> dict[str, dict]:
    """The settings inference starts from, per member, resolved by the kit's one precedence
    (arenakit.core.settings.resolve_settings): the member's own settings in `inference` beat the
    notebook-wide swap_average (None: not given), which beats the member's inference profile, which
    beats the model as saved. An entry of `inference` is a profile name ("decoder_2xt4": its
    inference settings) or a dict of settings, which may name a profile too:
    {"deberta_lora": {"profile": "decoder_2xt4", "max_length": 1024}}. Every name and value is checked."""
    from arenakit.models.lora.profiles import profile_settings

    start = {}
    for member in members:
        entry = (inference or {}).get(member.name)
        source = f"inference= for {member.name}"
        explicit = dict(entry) if isinstance(entry, Mapping) else {}
        profile = entry if isinstance(entry, str) else explicit.pop("profile", None)
        declared = member.inference_settings()
        if swap_average is not None and "swap_average" in declared:
            explicit.setdefault("swap_average", swap_average)
        preset = {}
        if profile is not None:
            preset = {key: value for key, value in profile_settings(profile).items() if key in declared}
        start[member.name] = resolve_settings(
            declared, explicit, source, preset, profile_source=f"profile {profile!r} ({source})"
        )
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
