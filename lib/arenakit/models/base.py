"""What every kit model shares: parameters, save/load without pickle, and fold averaging.

Artifacts are plain files (JSON, .npz, LightGBM text models), not pickles: the Kaggle image runs
older scikit-learn and pandas than a laptop, and pickles do not survive that.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

import arenakit
from arenakit.data import swap_ab, swap_labels
from arenakit.models.checks import check_labels, check_parsed_frame, check_probabilities
from arenakit.swap import swap_asymmetry, swap_average

MODEL_FILE = "model.json"


class ArenaModel(BaseEstimator):
    """Base class: subclasses implement fit, predict_one_order, _save_state and _load_state.

    Subclasses take a `swap_average` parameter: predict_proba then averages the prediction with
    the mapped-back prediction on the A/B-swapped rows, which makes it exactly symmetric.
    """

    swap_average = False

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> ArenaModel:
        raise NotImplementedError

    def predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities for the rows as given, without swap averaging."""
        raise NotImplementedError

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        check_parsed_frame(frame)
        proba = check_probabilities(self.predict_one_order(frame), len(frame), type(self).__name__)
        if not self.swap_average:
            return proba
        swapped = check_probabilities(self.predict_one_order(swap_ab(frame)), len(frame), type(self).__name__)
        return swap_average(proba, swapped)

    def swap_asymmetry(self, frame: pd.DataFrame) -> float:
        """How far the one-order prediction is from symmetric (0 = swapping A and B changes nothing)."""
        return swap_asymmetry(self.predict_one_order(frame), self.predict_one_order(swap_ab(frame)))

    def _save_state(self, folder: Path) -> dict:
        """Write learned state into folder; return JSON-able extras for model.json."""
        raise NotImplementedError

    def _load_state(self, folder: Path, extras: dict) -> None:
        raise NotImplementedError

    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        extras = self._save_state(folder)
        record = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": self.get_params(deep=False),
            "arenakit_version": arenakit.__version__,
            "state": extras,
        }
        (folder / MODEL_FILE).write_text(json.dumps(record, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path | str, **overrides) -> ArenaModel:
        """The saved model; overrides replace saved parameters (another weights path, device, max_length, swap_average)."""
        folder = Path(folder)
        record = json.loads((folder / MODEL_FILE).read_text())
        unknown = sorted(set(overrides) - set(record["params"]))
        if unknown:
            raise TypeError(
                f"{folder}: {cls.__name__} has no parameter(s) {', '.join(unknown)}; it has: {', '.join(sorted(record['params']))}"
            )
        model = cls(**{**record["params"], **overrides})
        model._load_state(folder, record["state"])
        return model


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


def with_swapped_rows(frame: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Training rows in both A/B orders, and each row's original position (keep pairs in one fold)."""
    both = pd.concat([frame, swap_ab(frame)], ignore_index=True)
    position = np.tile(np.arange(len(frame)), 2)
    return both, np.concatenate([y, swap_labels(y)]), position


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
            model.save(folder / f"fold_{fold}")
        return folder

    @classmethod
    def load(cls, folder: Path | str, **overrides) -> FoldEnsemble:
        folder = Path(folder)
        fold_dirs = sorted(folder.glob("fold_*"), key=lambda p: int(p.name.split("_")[1]))
        if not fold_dirs:
            raise FileNotFoundError(f"{folder}: no fold_<k> folders; run the model's notebook first")
        return cls(
            [load_model(fold_dir, **overrides) for fold_dir in fold_dirs],
            [int(fold_dir.name.split("_")[1]) for fold_dir in fold_dirs],
        )


def load_model(folder: Path | str, **overrides) -> ArenaModel:
    """Load any kit model saved with save(); the class is named in its model.json."""
    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a saved arenakit model folder")
    module_name, _, class_name = json.loads(path.read_text())["class"].rpartition(".")
    model_class = getattr(importlib.import_module(module_name), class_name)
    return model_class.load(folder, **overrides)
