"""MiniLM + LightGBM: sentence embeddings of each side plus the surface features, gradient boosting.

For each row the embedder gives each side formatted as "prompt [SEP] response" (the kit's one
formatter) and, with texts="all" (the default on a GPU), the prompt alone and each response alone. The model sees
  diff_emb_<i>          side A minus side B embedding (antisymmetric: negated under a swap)
  pair_cos_sides        cosine of the two sides (symmetric)
  with texts="all" also
  pair_cos_responses    cosine of the two responses alone (symmetric)
  prompt_cos_a / _b, diff_prompt_cos   how close each response is to the prompt
  the surface features of arenakit.inputs.features (length, structure, refusals, similarity)
  with properties= an annotation file: each side's LLM-judged ratings and their differences
  (arenakit.inputs.property_features; an unrated response's are NaN, which LightGBM routes natively)
named by the features module's convention, so swap_features gives the swapped rows' features
without embedding anything again. Early stopping uses an inner holdout carved from the training
rows (never the fold being predicted), then the model is refit on all of them.

Embeddings are cached on disk (cache_dir, default $ARENAKIT_CACHE or ~/.cache/arenakit), so the
K fold models, swap averaging and a re-run embed each distinct text once.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from arenakit.core.atomic import write_with
from arenakit.core.errors import ArtifactError
from arenakit.core.paths import default_cache_dir
from arenakit.core.schema import N_CLASSES
from arenakit.core.settings import boolean, choice, integer, real, text
from arenakit.core.swap import swap_proba
from arenakit.core.threads import threads_now
from arenakit.inputs.embedder import KINDS, SentenceEmbedder
from arenakit.inputs.features import FEATURES_VERSION, check_features_version, surface_features, swap_features
from arenakit.inputs.formatting import FORMATTER_VERSION, check_formatter_version
from arenakit.models.base import ArenaModel, ArenaTags, training_labels
from arenakit.models.distill import (
    DEFAULT_DISTILL_TEMPERATURE,
    DEFAULT_DISTILL_WEIGHT,
    DISTILL_SETTINGS,
    carries_targets,
    class_weights,
    expand_rows,
    fit_targets,
    swap_weights,
)
from arenakit.models.property_params import PROPERTY_SETTINGS, UsesProperties
from arenakit.models.protocol import CacheInfo

BOOSTER_FILE = "lightgbm.txt"
# Below this many rows LightGBM runs on one thread. On a few thousand rows its OpenMP threads
# spend more time waiting on each other than working, and far more once torch's own OpenMP
# runtime is loaded in the same process: measured on 1,600 rows x 430 columns on a 2-core
# machine, 50 rounds took 1.1 s on one thread and 4-10 s on two.
MULTITHREAD_MIN_ROWS = 20_000


# Tokens per embedded text when the notebook leaves max_seq_length at None. MiniLM's own 256 on a
# GPU; 128 on a CPU, where embedding is most of the run: most responses are longer than 128
# tokens, so this about halves it.
GPU_MAX_SEQ_LENGTH, CPU_MAX_SEQ_LENGTH = 256, 128
# The texts embedded when the notebook leaves `texts` at None: all five kinds on a GPU, where embedding
# is cheap; the two sides on a CPU, 40% of the texts at the same out-of-fold log loss on the real rows.
GPU_TEXTS, CPU_TEXTS = "all", "sides"


def _on_gpu(device: str | None) -> bool:
    import torch

    return (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")


def default_max_seq_length(device: str | None = None) -> int:
    return GPU_MAX_SEQ_LENGTH if _on_gpu(device) else CPU_MAX_SEQ_LENGTH


def default_texts(device: str | None = None) -> str:
    return GPU_TEXTS if _on_gpu(device) else CPU_TEXTS


def lightgbm_threads(n_rows: int) -> int:
    """num_threads for LightGBM: 1 on small data, else this notebook's share of the cores when
    notebooks run side by side (threads_now), else 0 (LightGBM's default: every core)."""
    return 1 if n_rows < MULTITHREAD_MIN_ROWS else threads_now() or 0


def _cosine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    return (left * right).sum(axis=1) / np.maximum(norms, 1e-12)


# The text kinds each `texts` setting embeds (arenakit.inputs.embedder.KINDS names them).
TEXT_SETS = {"all": KINDS, "sides": ("a", "b")}


def embedding_features(embeddings: dict, n_components: int | None = None) -> pd.DataFrame:
    """Pair features from embed_sides() output; n_components keeps the first dims of the difference.

    Needs the kinds "a" and "b"; the response and prompt features come only when embeddings holds
    "prompt", "response_a" and "response_b" too (texts="all").
    """
    diff = embeddings["a"] - embeddings["b"]
    if n_components:
        diff = diff[:, :n_components]
    columns = {f"diff_emb_{i}": diff[:, i] for i in range(diff.shape[1])}
    columns["pair_cos_sides"] = _cosine(embeddings["a"], embeddings["b"])
    if not {"prompt", "response_a", "response_b"} <= set(embeddings):
        return pd.DataFrame(columns).astype(np.float32)
    columns["pair_cos_responses"] = _cosine(embeddings["response_a"], embeddings["response_b"])
    columns["prompt_cos_a"] = _cosine(embeddings["prompt"], embeddings["response_a"])
    columns["prompt_cos_b"] = _cosine(embeddings["prompt"], embeddings["response_b"])
    columns["diff_prompt_cos"] = columns["prompt_cos_a"] - columns["prompt_cos_b"]
    return pd.DataFrame(columns).astype(np.float32)


class MiniLMLightGBMModel(UsesProperties, ArenaModel):
    """Sentence embeddings + surface features -> LightGBM multiclass, K-fold ready, swap-symmetric.

    Parameters
    ----------
    model_path : folder of the sentence-transformers model; None: the bundled all-MiniLM-L6-v2.
    cache_dir : folder of the embedding cache; None: $ARENAKIT_CACHE/embeddings (or
        ~/.cache/arenakit/embeddings); "" turns caching off.
    batch_size : texts per embedding batch.
    device : "cuda", "cpu", ...; None: CUDA when present.
    precision : what the embedding model computes in: "fp32", "fp16", "bf16" or "int8" (CPU only);
        None: fp16 on CUDA, bf16 on a CPU with native bf16, else fp32 (arenakit.inputs.embedder.default_precision
        says why, and why not int8).
    prompt_share : the prompt's capped share of each side's tokens ("prompt [SEP] response").
    texts : which texts are embedded. "all": the prompt, each response alone and each side (five
        kinds; the features diff_emb_*, pair_cos_sides, pair_cos_responses, prompt_cos_a/_b,
        diff_prompt_cos). "sides": the two sides only (diff_emb_* and pair_cos_sides): on the 999
        real sample rows 1,991 distinct texts instead of 4,969, 48% of the tokens, at the same
        out-of-fold log loss (1.0321 against 1.0320, mean of LightGBM seeds 42, 1, 2; fp32, 128
        tokens; experiments/minilm_texts.py). None: "sides" on a CPU, "all" on a GPU. A fitted
        model embeds what its columns need, whatever device it predicts on; one saved before this
        setting existed loads as "all".
    use_surface_features : add arenakit.inputs.features.surface_features to the embedding features.
    num_leaves, learning_rate, min_child_samples, feature_fraction, bagging_fraction, lambda_l2 :
        LightGBM's parameters of those names.
    max_rounds : boosting rounds at most; early stopping picks fewer.
    early_stopping_rounds : rounds without a better holdout loss before stopping.
    valid_fraction : share of the training rows held out for early stopping (the model is then
        refit on all of them with the rounds scaled up).
    swap_augment : train on both A/B orders.
    swap_average : average each prediction with the mapped-back prediction on the swapped rows
        (from the features alone: no second embedding pass).
    seed : seed of the holdout split and of LightGBM.
    max_seq_length : tokens per embedded text; None: 256 on a GPU, 128 on a CPU.
    properties : an annotation file (python -m arenakit.annotate) whose ratings are added as features;
        None: none. properties_judge : whose ratings, when the file holds several judges.
    distill_weight, distill_temperature : with a teacher on the fit frame (TEACHER_COLUMNS), each
        row trains once per class with weight (1 - distill_weight) * onehot + distill_weight *
        teacher at that temperature (arenakit.models.distill); without one they change nothing.

    model_path and cache_dir are paths of the machine that fitted the model: load_model never
    takes them from a saved model.json.
    """

    arena_tags = ArenaTags(
        run_only_params=frozenset({"cache_dir", "batch_size", "device", "precision"}),
        path_params=frozenset({"model_path", "cache_dir", "properties"}),
    )
    _fitted_attribute = "booster_"
    inference_params = frozenset(
        {"swap_average", "max_seq_length", "batch_size", "device", "precision", "cache_dir", "properties"}
    )
    token_cap_param = "max_seq_length"
    declared_settings = {
        "model_path": text(optional=True, none="the bundled all-MiniLM-L6-v2"),
        "cache_dir": text(optional=True, none='$ARENAKIT_CACHE or ~/.cache/arenakit; "": no cache'),
        "batch_size": integer(1),
        "device": text(optional=True, none="cuda when available"),
        "precision": choice("fp32", "fp16", "bf16", "int8", optional=True, none="by device"),
        "prompt_share": real(0, 1),
        "texts": choice(*TEXT_SETS, optional=True, none="sides on a CPU, all on a GPU"),
        "use_surface_features": boolean(),
        "num_leaves": integer(2),
        "learning_rate": real(0, above=True),
        "max_rounds": integer(1),
        "min_child_samples": integer(1),
        "feature_fraction": real(0, 1, above=True),
        "bagging_fraction": real(0, 1, above=True),
        "lambda_l2": real(0),
        "early_stopping_rounds": integer(1),
        "valid_fraction": real(0, 0.9, above=True),
        "swap_augment": boolean(),
        "swap_average": boolean(),
        "seed": integer(0),
        "max_seq_length": integer(8, optional=True, none="256 on a GPU, 128 on a CPU"),
        **PROPERTY_SETTINGS,
        **DISTILL_SETTINGS,
    }

    def __init__(
        self,
        *,
        model_path: str | None = None,
        cache_dir: str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        precision: str | None = None,
        prompt_share: float = 0.3,
        texts: str | None = None,
        use_surface_features: bool = True,
        num_leaves: int = 15,
        learning_rate: float = 0.03,
        max_rounds: int = 2000,
        min_child_samples: int = 40,
        feature_fraction: float = 0.3,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 10.0,
        early_stopping_rounds: int = 100,
        valid_fraction: float = 0.25,
        swap_augment: bool = True,
        swap_average: bool = True,
        seed: int = 0,
        max_seq_length: int | None = None,
        properties: str | None = None,
        properties_judge: str | None = None,
        distill_weight: float = DEFAULT_DISTILL_WEIGHT,
        distill_temperature: float = DEFAULT_DISTILL_TEMPERATURE,
    ):
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.prompt_share = prompt_share
        self.texts = texts
        self.use_surface_features = use_surface_features
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.max_rounds = max_rounds
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.early_stopping_rounds = early_stopping_rounds
        self.valid_fraction = valid_fraction
        self.swap_augment = swap_augment
        self.swap_average = swap_average
        self.seed = seed
        self.max_seq_length = max_seq_length
        self.properties = properties
        self.properties_judge = properties_judge
        self.distill_weight = distill_weight
        self.distill_temperature = distill_temperature

    def embedded_texts(self) -> str:
        """The texts this model embeds: as fitted (its columns say; a CPU-fitted model predicts the same on a
        GPU), else the setting, else this device's default."""
        if hasattr(self, "columns_"):
            return "all" if "pair_cos_responses" in self.columns_ else "sides"
        return self.texts or default_texts(self.device)

    def token_cap(self) -> int:
        """max_seq_length, or the default it resolves to on this device (256 on a GPU, 128 on a CPU)."""
        return self.max_seq_length if self.max_seq_length is not None else default_max_seq_length(self.device)

    def _cache_folder(self) -> Path | None:
        # None: the default folder; "" turns caching off.
        return (
            default_cache_dir() / "embeddings"
            if self.cache_dir is None
            else (Path(self.cache_dir) if self.cache_dir else None)
        )

    def cache_info(self) -> CacheInfo | None:
        folder = self._cache_folder()
        if folder is None:
            return None
        what = "sentence embeddings, keyed by model, formatter version, max_seq_length, precision and text"
        return CacheInfo("cache_dir", what, str(folder))

    def _embedder(self):
        if getattr(self, "embedder_", None) is None:
            # Without a cache every fold would embed its training rows again; "" turns it off.
            cache_dir = self._cache_folder()
            self.embedder_ = SentenceEmbedder(
                self.model_path,
                batch_size=self.batch_size,
                device=self.device,
                precision=self.precision,
                cache_dir=cache_dir,
                # Resolved here: the embedder's own None would be the model's 256 on a CPU too.
                max_seq_length=self.token_cap(),
            )
        return self.embedder_

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input table for these rows (embeddings are cached on disk when cache_dir is set)."""
        kinds = TEXT_SETS[self.embedded_texts()]
        table = embedding_features(self._embedder().embed_sides(frame, prompt_share=self.prompt_share, kinds=kinds))
        if self.use_surface_features:
            table = pd.concat([table, surface_features(frame).reset_index(drop=True)], axis=1)
        ratings = self.property_ratings()
        if ratings is not None:
            table = pd.concat([table, ratings.features(frame).reset_index(drop=True)], axis=1)
        return table

    def _lgb_params(self, n_rows: int) -> dict:
        return {
            "objective": "multiclass",
            "num_class": N_CLASSES,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "verbosity": -1,
            "num_threads": lightgbm_threads(n_rows),
        }

    def _dataset(self, table: pd.DataFrame, weights: np.ndarray) -> lgb.Dataset:
        """weights: (n, 3) per-row class weights (one-hot for plain labels; arenakit.models.distill)."""
        if self.swap_augment:
            table = pd.concat([table, swap_features(table)], ignore_index=True)
            weights = np.concatenate([weights, swap_weights(weights)])
        rows, classes, row_weights = expand_rows(weights)
        # One-hot weights expand to the rows themselves: the plain fit, without weights.
        plain = len(rows) == len(table) and np.all(row_weights == 1)
        return lgb.Dataset(
            table.iloc[rows].reset_index(drop=True),
            label=classes,
            weight=None if plain else row_weights,
            free_raw_data=False,
        )

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> MiniLMLightGBMModel:
        self.check_settings()
        if carries_targets(frame):
            targets = fit_targets(frame, y)
            weights = class_weights(targets, self.distill_weight, self.distill_temperature)
        else:
            weights = np.eye(N_CLASSES)[training_labels(frame, y)]
        self._fit_properties(frame)
        table = self.features(frame.reset_index(drop=True))
        rng = np.random.default_rng(self.seed)
        holdout = rng.random(len(table)) < self.valid_fraction
        params = self._lgb_params(len(table))
        # A row and its swap stay on the same side of the split: the holdout is drawn first.
        probe = lgb.train(
            params,
            self._dataset(table[~holdout], weights[~holdout]),
            num_boost_round=self.max_rounds,
            valid_sets=[self._dataset(table[holdout], weights[holdout])],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        # Refit on every training row, with rounds scaled for the rows the holdout had kept out.
        self.best_rounds_ = max(1, int(round(probe.best_iteration / (1 - self.valid_fraction))))
        self.booster_ = lgb.train(params, self._dataset(table, weights), num_boost_round=self.best_rounds_)
        self.columns_ = tuple(table.columns)
        return self

    def _predict_table(self, table: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(table[list(self.columns_)], num_threads=lightgbm_threads(len(table)))

    def _predict_one_order(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict_table(self.features(frame.reset_index(drop=True)))

    def _predict_orders(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        # From the features alone: the swapped rows need no second embedding pass.
        table = self.features(frame.reset_index(drop=True))
        return self._predict_table(table), swap_proba(self._predict_table(swap_features(table)))

    def feature_importance(self) -> pd.Series:
        """Total gain per feature, the embedding dimensions summed into one entry."""
        gain = pd.Series(self.booster_.feature_importance("gain"), index=list(self.columns_))
        is_embedding = gain.index.str.startswith("diff_emb_")
        summed = pd.concat([gain[~is_embedding], pd.Series({"diff_emb (all dims)": gain[is_embedding].sum()})])
        return summed.sort_values(ascending=False)

    @classmethod
    def _saved_settings(cls, record: dict) -> dict:
        # Saved before `texts` existed: those models embedded all five kinds, whatever the default is now.
        return {"texts": "all", **super()._saved_settings(record)}

    def _save_state(self, folder: Path) -> dict:
        write_with(folder / BOOSTER_FILE, lambda temporary: self.booster_.save_model(str(temporary)))
        return {
            "columns": list(self.columns_),
            "best_rounds": self.best_rounds_,
            "formatter_version": FORMATTER_VERSION,
            "features_version": FEATURES_VERSION,
            **self._properties_state(),
        }

    def _load_state(self, folder: Path, extras: dict) -> None:
        check_formatter_version(extras["formatter_version"])
        check_features_version(extras["features_version"])
        try:
            self.booster_ = lgb.Booster(model_file=str(folder / BOOSTER_FILE))
        except lgb.basic.LightGBMError as error:
            raise ArtifactError(
                f"{folder / BOOSTER_FILE}: not a readable LightGBM model ({error}); retrain, or copy it again"
            ) from None
        self.columns_, self.best_rounds_ = tuple(extras["columns"]), extras["best_rounds"]
        self._load_properties_state(extras)
        if self.booster_.num_feature() != len(self.columns_):
            raise ArtifactError(
                f"{folder}: the LightGBM model takes {self.booster_.num_feature()} features but model.json lists "
                f"{len(self.columns_)} columns; the folder mixes files of two runs: retrain"
            )
