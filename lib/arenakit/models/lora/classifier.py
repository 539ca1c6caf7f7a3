"""What the LoRA classifiers share: their settings groups, the fit, prediction over devices, save and load.

    model = CrossEncoderClassifier(model=ModelSettings(backbone="microsoft/deberta-v3-small", max_length=1024),
                                   training=TrainingSettings(epochs=2))
    model.set_params(max_length=512)            # a setting by its name (or model__max_length, as scikit-learn)
    CrossEncoderClassifier.from_settings({"backbone": "minilm", "epochs": 2, "device": "cpu"})
    model.fit(train); model.predict_proba(test); model.save("fold_0")
    load_model("fold_0", max_length=2048, quantize="8bit")   # inference settings taken anew

The architectures are subclasses, each one module: the cross-encoder (cross_encoder.py: prompt, A
and B in one sequence, an encoder or a decoder backbone) and the Siamese encoder
(siamese_classifier.py). Each says how it builds its network, what it reads, how it trains on
swaps, copies itself to another device and saves; nothing here asks which one it is.

Parameters are three settings groups (arenakit.models.lora.settings) and swap_average:
`model` (backbone, inputs, adapters: what the model is), `training` (what the training loop
reads, passed to it as it is) and `runtime` (devices, batch sizes, checkpoints, progress: how a
run goes; a saved fold is reused whatever they are). model.json (format 2) stores the groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from arenakit.core.phases import timed
from arenakit.core.settings import refuse_unknown
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.inputs.backbones import resolve_backbone
from arenakit.inputs.formatting import FORMATTER_VERSION, check_formatter_version
from arenakit.models.base import ArenaModel, ArenaTags, training_labels
from arenakit.models.distill import carries_targets, fit_targets
from arenakit.models.lora.backbone import load_tokenizer, quiet_transformers
from arenakit.models.lora.batching import TokenRows
from arenakit.models.lora.predict import available_devices, predict_proba
from arenakit.models.lora.settings import (
    ARCHITECTURE_GROUPS,
    GROUP_NAMES,
    RuntimeSettings,
    declared_for,
)
from arenakit.models.lora.train import train_classifier

ADAPTER_DIR = "adapter"
# Parameters of the one estimator before the split that a class of the family may lack.
LEGACY_ONLY = ("architecture", "finetune")


def inner_holdout(frame: pd.DataFrame, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of validation rows: stratified, grouped by prompt (no prompt on both sides)."""
    if fraction <= 0:
        return np.zeros(len(frame), dtype=bool)
    n_parts = max(2, round(1 / fraction))
    return assign_folds(y, prompt_groups(frame), n_folds=n_parts, seed=seed) == 0


class LoRAClassifier(ArenaModel):
    """The shared core; use a subclass (CrossEncoderClassifier, SiameseClassifier).

    Parameters
    ----------
    model : the model's settings group (ModelSettings; SiameseModelSettings); None: the defaults.
    training : the training settings group (TrainingSettings); None: the architecture's defaults.
    runtime : the runtime settings group (RuntimeSettings); None: the defaults.
    swap_average : average each prediction with the mapped-back prediction on the swapped rows.

    None is replaced by a fresh group of defaults at construction, so every instance owns its
    groups (set_params changes them in place, as scikit-learn does with nested estimators).
    """

    architecture: ClassVar[str] = ""  # the key of ARCHITECTURE_GROUPS: the groups this class takes
    arena_tags = ArenaTags(
        run_only_params=frozenset(RuntimeSettings.names()),
        checkpoint_param="checkpoint_dir",
        path_params=frozenset({"checkpoint_dir"}),
    )
    # What a saved model may take anew at inference (the ensemble's inference= and its budget set only these).
    inference_params: ClassVar[frozenset[str]] = frozenset(
        {
            "quantize",
            "dtype",
            "max_length",
            "max_batch_tokens",
            "inference_batch_size",
            "swap_average",
            "swap_on_second_device",
            "device",
        }
    )
    token_cap_param: ClassVar[str | None] = "max_length"
    _fitted_attribute = "model_"

    def __init__(self, *, model=None, training=None, runtime=None, swap_average: bool = True):
        model_class, training_class, runtime_class = ARCHITECTURE_GROUPS[self.architecture]
        self.model = model_class() if model is None else model
        self.training = training_class() if training is None else training
        self.runtime = runtime_class() if runtime is None else runtime
        self.swap_average = swap_average

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.architecture:
            cls.declared_settings = declared_for(ARCHITECTURE_GROUPS[cls.architecture])

    # -- settings by their flat names ------------------------------------------------------------

    @classmethod
    def _group_of(cls) -> dict[str, str]:
        """Each flat setting name and the group that holds it."""
        groups = ARCHITECTURE_GROUPS[cls.architecture]
        return {name: group_name for group_name, group in zip(GROUP_NAMES, groups) for name in group.names()}

    @classmethod
    def setting_names(cls) -> set[str]:
        return set(cls._group_of()) | {"swap_average"}

    def settings(self) -> dict:
        flat = {name: value for group in GROUP_NAMES for name, value in getattr(self, group).get_params().items()}
        return {**flat, "swap_average": self.swap_average}

    @classmethod
    def from_settings(cls, settings: dict) -> LoRAClassifier:
        refuse_unknown(settings, dict.fromkeys(cls.setting_names()), f"the settings of a {cls.__name__}")
        where = cls._group_of()
        groups = ARCHITECTURE_GROUPS[cls.architecture]
        values = {
            group_name: group(**{k: v for k, v in settings.items() if where.get(k) == group_name})
            for group_name, group in zip(GROUP_NAMES, groups)
        }
        return cls(**values, swap_average=settings.get("swap_average", True))

    def set_params(self, **params) -> LoRAClassifier:
        """scikit-learn's set_params; a setting may also be named alone (max_length for model__max_length)."""
        where = self._group_of()
        return super().set_params(**{f"{where[k]}__{k}" if k in where else k: v for k, v in params.items()})

    def _params_record(self) -> dict:
        return {
            **{group: getattr(self, group).get_params() for group in GROUP_NAMES},
            "swap_average": self.swap_average,
        }

    @classmethod
    def _saved_settings(cls, record: dict) -> dict:
        params = record["params"]
        if record.get("format", 1) < 2:  # saved before the split (class LoRAClassifierModel): flat parameters
            # architecture chose the class (arenakit.models.lora.legacy); the cross-encoder's finetune was always "lora".
            return {k: v for k, v in params.items() if k in cls.setting_names() or k not in LEGACY_ONLY}
        missing = [group for group in GROUP_NAMES if not isinstance(params.get(group), dict)]
        if missing:
            raise KeyError(f"the settings groups {', '.join(missing)}")
        flat = {name: value for group in GROUP_NAMES for name, value in params[group].items()}
        return {**flat, "swap_average": params.get("swap_average", True)}

    # -- the model protocol (arenakit.models.protocol): ArenaModel's, read from settings() ------------
    # symmetric: False (the Siamese estimator says True); cheaper_steps: swap-averaging off, then
    # max_length halved; cache_info: None (nothing is cached between runs).

    # -- what each architecture says ---------------------------------------------------------------

    def _new_network(self):
        """The network to train, on the first device: backbone, adapters (or trainable weights) and head."""
        raise NotImplementedError

    def input_ids(self, frame: pd.DataFrame) -> list:
        """The token ids the model reads for each row (specials included, at most max_length per sequence)."""
        raise NotImplementedError

    def input_texts(self, frame: pd.DataFrame) -> list:
        """The text each row's input is tokenized from."""
        raise NotImplementedError

    def model_inputs(self, frame: pd.DataFrame) -> TokenRows:
        """What the model reads for these rows, ready to batch."""
        raise NotImplementedError

    def _train_rows(self, frame: pd.DataFrame, y: np.ndarray) -> tuple[TokenRows, np.ndarray]:
        """Model inputs and labels to train on; with swap_augment each row is followed by its A/B swap."""
        raise NotImplementedError

    def _copy_for(self, device: str):
        """The fitted network on another device (its own copy, the same adapters and head)."""
        raise NotImplementedError

    def trainable_parameters(self) -> tuple[int, int]:
        """(trained, total) parameter counts: the adapters and the head against the whole model."""
        raise NotImplementedError

    def _save_network(self, folder: Path) -> None:
        raise NotImplementedError

    def _load_network(self, folder: Path):
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------

    def _devices(self) -> list[str]:
        return available_devices(self.runtime.device)

    def tokenizer(self):
        """The backbone's tokenizer (loaded once)."""
        if getattr(self, "tokenizer_", None) is None:
            quiet_transformers()
            self.tokenizer_ = load_tokenizer(resolve_backbone(self.model.backbone))
        return self.tokenizer_

    def _replicas(self, devices: list[str]) -> list:
        """The model on devices[1:], each its own copy (kept until the next fit or load)."""
        cache = self.__dict__.setdefault("_device_models", {})
        for position, device in enumerate(devices[1:], start=1):
            if (position, device) not in cache:
                cache[(position, device)] = self._copy_for(device)
        return [cache[(position, device)] for position, device in enumerate(devices[1:], start=1)]

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> LoRAClassifier:
        self.check_settings()
        # A teacher or row weights on the frame: soft targets (arenakit.models.distill); else labels alone.
        targets = fit_targets(frame, y) if carries_targets(frame) else None
        y = targets.labels if targets is not None else training_labels(frame, y)
        frame = frame.reset_index(drop=True)
        training = self.training
        if training.max_train_rows and len(frame) > training.max_train_rows:
            rng = np.random.default_rng(training.seed)
            keep = np.sort(rng.choice(len(frame), training.max_train_rows, replace=False))
            frame, y = frame.iloc[keep].reset_index(drop=True), y[keep]
            targets = targets.subset(keep) if targets is not None else None
        torch.manual_seed(training.seed)
        self.__dict__.pop("_device_models", None)
        with timed("load"):
            self.model_ = self._new_network()
        # Early stopping reads labels: unlabelled rows always train.
        valid = np.zeros(len(frame), dtype=bool)
        labelled = np.flatnonzero(y >= 0)
        valid[labelled] = inner_holdout(
            frame.iloc[labelled].reset_index(drop=True), y[labelled], training.valid_fraction, training.seed
        )
        with timed("tokenize"):
            train_rows, y_train = self._train_rows(frame[~valid].reset_index(drop=True), y[~valid])
            valid_rows = self.model_inputs(frame[valid].reset_index(drop=True))
        if targets is not None:
            # Every architecture puts each row's swap right after it (with_swapped_rows, interleave).
            targets = targets.subset(~valid)
            targets = targets.with_swaps(interleave=True) if training.swap_augment else targets
        self.history_ = train_classifier(
            self.model_,
            train_rows,
            y_train,
            valid_rows,
            y[valid],
            training,
            self.runtime,
            device=self._devices()[0],
            targets=targets,
        )
        self.n_train_rows_ = int((~valid).sum())
        return self

    def _predict_rows(self, rows: TokenRows, parts: list[np.ndarray] | None = None) -> np.ndarray:
        devices = self._devices()
        return predict_proba(
            self.model_,
            rows,
            self.runtime.inference_batch_size,
            devices,
            progress=self.runtime.progress,
            max_batch_tokens=self.runtime.max_batch_tokens,
            replicas=self._replicas(devices),
            parts=parts,
        )

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict_rows(self.model_inputs(frame.reset_index(drop=True)))

    def _save_state(self, folder: Path) -> dict:
        self._save_network(folder)
        return {"formatter_version": FORMATTER_VERSION, "history": self.history_, "n_train_rows": self.n_train_rows_}

    def _load_state(self, folder: Path, extras: dict) -> None:
        check_formatter_version(extras["formatter_version"])
        self.__dict__.pop("_device_models", None)
        self.model_ = self._load_network(folder)
        self.model_.eval()
        self.history_ = extras.get("history", [])
        self.n_train_rows_ = extras.get("n_train_rows")
        # Every device gets its copy now, so loading (not the first prediction) carries that cost.
        self._replicas(self._devices())
