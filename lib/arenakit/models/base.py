"""What every kit model shares: parameters, save/load without pickle, fold averaging, and what generic code needs.

Artifacts are plain files (JSON, .npz, LightGBM text models, peft adapters), not pickles: the
Kaggle image runs older scikit-learn and pandas than a laptop, and pickles do not survive that.
A saved folder is data, never code: load_model builds only the kit's own model classes (named in
MODEL_CLASSES, or registered by the user's own code with register_model_class), and parameters
that are paths (ArenaTags.path_params) are never taken from a saved file.
"""

from __future__ import annotations

import importlib
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

import arenakit
from arenakit.core.artifacts import read_json
from arenakit.core.atomic import recording_writes, remove, write_json
from arenakit.core.completion import file_hashes
from arenakit.core.errors import ArtifactError, VersionMismatch
from arenakit.core.settings import Setting, check_settings, refuse_unknown
from arenakit.core.swap import swap_asymmetry, swap_proba
from arenakit.data.competition import swap_ab
from arenakit.models.checks import check_labels, check_parsed_frame, check_probabilities
from arenakit.models.protocol import SWAP_STEP, CacheInfo, CheaperStep, halved_token_cap

MODEL_FILE = "model.json"
# The saved record's format: 2 names it ("format") and lets a model store grouped parameters
# (the LoRA classifiers' model / training / runtime); 1 (no "format" key) held flat parameters.
MODEL_FORMAT = 2
FOLD_PREFIX = "fold_"
_FOLD_NAME = re.compile(r"fold_(\d+)")
# The kit's model classes by name, and the module that defines each: the only classes load_model builds.
MODEL_CLASSES = {
    "BaselineModel": "arenakit.models.baseline",
    "MiniLMLightGBMModel": "arenakit.models.minilm_lgbm",
    "CrossEncoderClassifier": "arenakit.models.lora.cross_encoder",
    "SiameseClassifier": "arenakit.models.lora.siamese_classifier",
    # Folders saved before the LoRA family split (model.json format 1): read into the classes above.
    "LoRAClassifierModel": "arenakit.models.lora.legacy",
}
_REGISTERED: dict[str, type] = {}


@dataclass(frozen=True)
class ArenaTags:
    """What generic code (the CV runner, load_model) needs to know about a model class."""

    # Parameters that change how a run goes (progress bars, devices, inference batch sizes,
    # checkpoint folders), not what a fold model learns: a saved fold is reused whatever they are.
    run_only_params: frozenset[str] = frozenset()
    # The parameter the CV runner points at a per-fold checkpoint folder (None: the model keeps none).
    checkpoint_param: str | None = None
    # Parameters holding paths on the machine that fitted the model: never restored from model.json
    # (a saved folder must not make the kit read or write elsewhere); a load gets them from its
    # overrides or the defaults.
    path_params: frozenset[str] = frozenset()


class ArenaModel(BaseEstimator):
    """Base class: subclasses implement fit, _predict_one_order, _save_state and _load_state.

    Subclasses take a `swap_average` parameter: predict_proba then averages the prediction with
    the mapped-back prediction on the A/B-swapped rows, which makes it exactly symmetric. A
    subclass that can predict both orders more cheaply than twice overrides _predict_orders.

    What the ensemble, its time budget and the bench may know about a model is declared here
    (arenakit.models.protocol): inference_params, token_cap_param, symmetric, cheaper_steps and
    cache_info. They read the parameters only, so they answer for an unfitted copy too.
    """

    swap_average = False
    arena_tags = ArenaTags()
    # Settings a saved model may take anew at inference: the ensemble's inference= and its time
    # budget set only these. swap_average: predict_proba below reads it.
    inference_params: ClassVar[frozenset[str]] = frozenset({"swap_average"})
    # The parameter capping tokens per row (the time budget halves it); None: the model has none.
    token_cap_param: ClassVar[str | None] = None
    # Each setting's type and range (arenakit.core.settings), declared once: checked at fit and at
    # load, and by whatever sets them (notebooks, -p on the command line, the ensemble's inference=).
    declared_settings: ClassVar[dict[str, Setting]] = {}
    # The learned attribute that fit sets last: present means fitted (check_is_fitted).
    _fitted_attribute = ""

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_attribute)

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> ArenaModel:
        raise NotImplementedError

    # -- settings: the parameters by their flat names, checked against declared_settings ---------

    def settings(self) -> dict:
        """The model's settings by name: its parameters (a model with grouped parameters flattens them)."""
        return self.get_params(deep=False)

    @classmethod
    def setting_names(cls) -> set[str]:
        return set(cls._get_param_names())

    @classmethod
    def from_settings(cls, settings: dict) -> ArenaModel:
        """A model with these settings (flat names); those not given keep their defaults."""
        return cls(**settings)

    def check_settings(self, source: str | None = None) -> ArenaModel:
        """Refuse a setting whose value its declaration does not take (SettingError naming it); returns self."""
        given = {key: value for key, value in self.settings().items() if key in self.declared_settings}
        check_settings(given, self.declared_settings, source or f"{type(self).__name__}'s parameters")
        return self

    def _params_record(self) -> dict:
        """The parameters as model.json stores them (JSON-able)."""
        return self.get_params(deep=False)

    @classmethod
    def _saved_settings(cls, record: dict) -> dict:
        """The flat settings a model.json record holds (its format's reader)."""
        return dict(record["params"])

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _predict_orders(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self._predict_one_order(frame), swap_proba(self._predict_one_order(swap_ab(frame)))

    def predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities for the rows as given, without swap averaging."""
        check_is_fitted(self)
        return self._predict_one_order(frame)

    def predict_orders(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(the rows as given, the A/B-swapped rows mapped back to A/B order): two (n, 3) predictions whose
        mean is the swap-averaged one. A cascade's swapped stage (arenakit.ensemble.cascade) blends them apart."""
        check_is_fitted(self)
        check_parsed_frame(frame)
        name = type(self).__name__
        one_order, swapped = self._predict_orders(frame)
        return check_probabilities(one_order, len(frame), name), check_probabilities(swapped, len(frame), name)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, 3) probabilities in CLASS_COLUMNS order; swap-averaged when swap_average is set."""
        check_is_fitted(self)
        check_parsed_frame(frame)
        proba = np.mean(self._predict_orders(frame), axis=0) if self.swap_average else self._predict_one_order(frame)
        return check_probabilities(proba, len(frame), type(self).__name__)

    def swap_asymmetry(self, frame: pd.DataFrame) -> float:
        """How far the one-order prediction is from symmetric (0 = swapping A and B changes nothing)."""
        return swap_asymmetry(self.predict_one_order(frame), self.predict_one_order(swap_ab(frame)))

    @property
    def swap_averaged(self) -> bool:
        """Whether predict_proba predicts both A/B orders and averages them (cross-validation then keeps the
        two apart, for a cascade's swapped stage)."""
        return self.settings().get("swap_average") is True and not self.symmetric

    def one_order_settings(self) -> dict:
        """The inference settings that make predict_proba one pass, in the rows' own order."""
        return {"swap_average": False}

    @property
    def symmetric(self) -> bool:
        """True when one pass is exactly symmetric under an A/B swap: swap-averaging then costs and gains nothing."""
        return False

    def token_cap(self) -> int | None:
        """Tokens per row in use: the token_cap_param's value (a subclass resolves a None default); None: no cap."""
        if self.token_cap_param is None:
            return None
        cap = self.settings().get(self.token_cap_param)
        return cap if isinstance(cap, int) and not isinstance(cap, bool) else None

    def cheaper_steps(self, min_tokens: int = 256) -> list[CheaperStep]:
        """Ways to run inference cheaper from the current settings, in STEP_KINDS order.

        Swap-averaging off (when on and the model is not symmetric: one pass less), then the token
        cap halved (never below min_tokens; offered while the cap is above it).
        """
        steps = []
        if self.settings().get("swap_average") is True and not self.symmetric:
            steps.append(CheaperStep(SWAP_STEP, "swap-averaging off", self.one_order_settings()))
        cap = self.token_cap()
        shorter = None if cap is None else halved_token_cap(self.token_cap_param, cap, min_tokens)
        if shorter is not None:
            steps.append(shorter)
        return steps

    def cache_info(self) -> CacheInfo | None:
        """What the model caches on disk and where; None: nothing."""
        return None

    def _save_state(self, folder: Path) -> dict:
        """Write learned state into folder; return JSON-able extras for model.json."""
        raise NotImplementedError

    def _load_state(self, folder: Path, extras: dict) -> None:
        raise NotImplementedError

    def save(self, folder: Path | str) -> Path:
        check_is_fitted(self)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # model.json is the fold's completion record: removed first and written last, with the
        # hashes of the files the state save wrote, so a crash in between leaves no model.json.
        remove(folder / MODEL_FILE)
        with recording_writes() as written:
            extras = self._save_state(folder)
        record = {
            "class": type(self).__name__,
            "format": MODEL_FORMAT,
            "params": self._params_record(),
            "arenakit_version": arenakit.__version__,
            "state": extras,
            "files": file_hashes(folder, written),
        }
        if getattr(self, "teacher_", None) is not None:  # a distilled student (arenakit.pipeline.teachers)
            record["teacher"] = self.teacher_
        write_json(folder / MODEL_FILE, record, indent=2, default=str)
        return folder

    @classmethod
    def load(cls, folder: Path | str, **overrides) -> ArenaModel:
        """The saved model; overrides replace saved parameters (device, max_length, swap_average, a path)."""
        folder = Path(folder)
        record = read_record(folder)
        names, declared = cls.setting_names(), cls.declared_settings
        refuse_unknown(overrides, dict.fromkeys(names), f"the load of {folder} as {cls.__name__}")
        check_settings({k: v for k, v in overrides.items() if k in declared}, declared, f"the load of {folder}")
        try:
            saved = cls._saved_settings(record)
            params = {key: value for key, value in saved.items() if key not in cls.arena_tags.path_params}
            unknown = sorted(set(params) - names)
            if unknown:
                raise TypeError(f"no parameter(s) {', '.join(unknown)}")
            check_settings(
                {k: v for k, v in params.items() if k in declared}, declared, f"saved model {folder / MODEL_FILE}"
            )
            model = cls.from_settings({**params, **overrides})
        except (TypeError, KeyError, AttributeError) as error:
            raise ArtifactError(
                f"{folder / MODEL_FILE}: its parameters do not fit {cls.__name__} ({error}); it was saved by "
                "another kit version: retrain it, or use the kit version that made it"
            ) from None
        if isinstance(record.get("teacher"), dict):  # a distilled fold keeps its teacher's record when saved again
            model.teacher_ = record["teacher"]
        try:
            model._load_state(folder, record["state"])
        except (ArtifactError, VersionMismatch):
            raise
        except (KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise ArtifactError(
                f"{folder}: the saved state of {cls.__name__} is damaged or incomplete "
                f"({type(error).__name__}: {error}); retrain it or copy the folder again"
            ) from None
        return model


def read_record(folder: Path) -> dict:
    """model.json of a saved model folder, checked for the keys every kit model writes."""
    path = folder / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a saved arenakit model folder")
    # Rerunning what wrote the fold would load this very file again (a finished fold is reused): the
    # remedy is to remove the fold, so the rerun trains it, or to copy the folder from where it was built.
    remedy = (
        f"delete {folder} and rerun the model's notebook (or `python -m arenakit.train`), which trains that fold "
        "again, or copy the model folder again from where it was built"
    )
    record = read_json(path, "a saved model's record", remedy)
    problems = [
        key
        for key, kind in (("class", str), ("params", dict), ("state", dict))
        if not isinstance(record.get(key), kind)
    ]
    if problems:
        raise ArtifactError(
            f"{path}: the entries {', '.join(problems)} are missing or of the wrong type; the file was edited or "
            f"truncated: {remedy}"
        )
    return record


def training_labels(frame: pd.DataFrame, y: np.ndarray | None) -> np.ndarray:
    """y when given, else the frame's label column, checked (models/checks.py); a clear error when neither is there."""
    check_parsed_frame(frame)
    if y is not None:
        return check_labels(y, len(frame), frame.get("id"))
    if "label" not in frame.columns:
        raise ValueError(
            "fit needs labels: pass y or a frame with a 'label' column (a train frame from load_competition)"
        )
    return check_labels(frame["label"].to_numpy(), len(frame), frame.get("id"))


def register_model_class(model_class: type) -> type:
    """Let load_model build a model class of your own code (a subclass of ArenaModel); usable as a decorator."""
    if not (isinstance(model_class, type) and issubclass(model_class, ArenaModel)):
        raise TypeError(f"{model_class!r} is not a subclass of arenakit.models.base.ArenaModel")
    if model_class.__name__ in MODEL_CLASSES and model_class.__module__ != MODEL_CLASSES[model_class.__name__]:
        # Saved folders name classes by name alone: the kit's own must keep meaning the kit's own.
        raise ValueError(f"{model_class.__name__} is a kit model class's name; give your class another name")
    _REGISTERED[model_class.__name__] = model_class
    return model_class


def model_class(name: str, where: Path) -> type:
    """The kit model class a model.json names; anything else is refused, never imported."""
    # Records of older kit versions name the class by its full path: only the class name counts.
    class_name = name.rpartition(".")[2] if name.startswith("arenakit.models.") else name
    if class_name in _REGISTERED:
        return _REGISTERED[class_name]
    if class_name not in MODEL_CLASSES:
        raise ArtifactError(
            f"{where}: names the model class {name!r}, which is not one of the kit's "
            f"({', '.join(MODEL_CLASSES)}); a saved folder is data, so no other code is imported from it. "
            "For a model class of your own, call arenakit.models.register_model_class(YourModel) first."
        )
    found = getattr(importlib.import_module(MODEL_CLASSES[class_name]), class_name)
    if not issubclass(found, ArenaModel):
        raise ArtifactError(f"{where}: {class_name} is not an ArenaModel")
    return found


def load_model(folder: Path | str, **overrides) -> ArenaModel:
    """Load any kit model saved with save(); the class is named in its model.json."""
    folder = Path(folder)
    record = read_record(folder)
    return model_class(record["class"], folder / MODEL_FILE).load(folder, **overrides)


def fold_folders(folder: Path) -> dict[int, Path]:
    """The fold_<k> folders of a saved FoldEnsemble by fold number, checked.

    Anything else named fold_* (a file, fold_0_old, fold_x), two folders for one fold (fold_1 and
    fold_01) and links leading out of the folder are refused with their path: a copy left beside
    the real fold must never be averaged in, and a saved folder must not reach elsewhere.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; run the model's notebook first")
    boundary = folder.resolve()
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.name.startswith(FOLD_PREFIX):
            continue
        match = _FOLD_NAME.fullmatch(path.name)
        if not match or not path.is_dir():
            raise ArtifactError(
                f"{path}: stray entry among the fold models (only folders named fold_<number> belong here); "
                "move it out of the folder"
            )
        fold = int(match.group(1))
        if fold in found:
            raise ArtifactError(f"{found[fold]} and {path} are both fold {fold}: keep one and move the other out")
        _refuse_links_out(path, boundary)
        found[fold] = path
    if not found:
        raise FileNotFoundError(f"{folder}: no fold_<k> folders; run the model's notebook first")
    return dict(sorted(found.items()))


def _refuse_links_out(fold_dir: Path, boundary: Path) -> None:
    inside = [Path(root) / name for root, dirs, files in os.walk(fold_dir) for name in (*dirs, *files)]
    for path in (fold_dir, *inside):
        if path.is_symlink() and not path.resolve().is_relative_to(boundary):
            raise ArtifactError(
                f"{path}: a link to {path.resolve()}, outside {boundary}; copy the files in instead of linking"
            )


class FoldEnsemble:
    """The K fold models of a cross-validation run; new rows get the average of their predictions."""

    def __init__(self, models: list, fold_ids: list[int] | None = None):
        if not models:
            raise ValueError("FoldEnsemble needs at least one fitted model")
        self.models = list(models)
        # Which fold each model held out: a run may train only some folds.
        self.fold_ids = list(range(len(self.models))) if fold_ids is None else [int(k) for k in fold_ids]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.mean([model.predict_proba(frame) for model in self.models], axis=0)

    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        for fold, model in zip(self.fold_ids, self.models):
            model.save(folder / f"{FOLD_PREFIX}{fold}")
        return folder

    @classmethod
    def load(cls, folder: Path | str, **overrides) -> FoldEnsemble:
        folds = fold_folders(Path(folder))
        return cls([load_model(path, **overrides) for path in folds.values()], list(folds))
