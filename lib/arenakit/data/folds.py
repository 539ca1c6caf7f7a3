"""One fold assignment for every model: stratified by label, grouped by prompt, seeded, saved.

    folds = shared_folds(out_dir, comp.train, n_folds=5, seed=42)   # created once, then loaded

The same prompt never sits in two folds (rows that share a prompt would leak the answer's
style across folds), every fold gets about the same class shares, and every model of a run reads
the same folds.csv, so the ensemble's out-of-fold predictions stay honest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.artifacts import read_json
from arenakit.core.atomic import write_csv, write_json
from arenakit.core.errors import ArenaDataError, ArtifactError, counted, examples, join_present
from arenakit.core.schema import N_CLASSES
from arenakit.core.settings import SettingError, check_setting, integer

FOLDS_FILE = "folds.csv"
FOLDS_META_FILE = "folds.json"
# Every message about a damaged fold file ends with what to do.
REMAKE_FOLDS = (
    "delete folds.csv and folds.json (and the model folders beside them) to make the folds anew, "
    "or use a fresh output folder"
)


def assign_folds(labels: np.ndarray, groups: np.ndarray, n_folds: int = 5, seed: int = 42) -> np.ndarray:
    """Fold index (0..n_folds-1) of every row; rows of one group share a fold.

    Groups of several rows are placed first, largest first, each into the fold where its classes
    are least represented; the single-row groups (most of them) then fill each fold up to its
    share of every class. Vectorised where it matters: 57k rows take well under a second, where
    scikit-learn's StratifiedGroupKFold takes about five.
    """
    labels = np.asarray(labels)
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    rng = np.random.default_rng(seed)
    group_ids, group_index = np.unique(groups, return_inverse=True)
    n_groups = len(group_ids)
    # Random group order first, so groups of equal size are placed in a seeded random order.
    order = rng.permutation(n_groups)
    rank = np.empty(n_groups, int)
    rank[order] = np.arange(n_groups)
    group_counts = np.zeros((n_groups, N_CLASSES), int)
    np.add.at(group_counts, (group_index, labels), 1)
    sizes = group_counts.sum(axis=1)

    class_totals = np.maximum(group_counts.sum(axis=0), 1)
    fold_counts = np.zeros((n_folds, N_CLASSES), float)
    group_fold = np.full(n_groups, -1)
    multi = np.flatnonzero(sizes > 1)
    for group in multi[np.lexsort((rank[multi], -sizes[multi]))]:
        need = group_counts[group]
        fill = fold_counts / class_totals
        cost = fill @ need + 1e-9 * fold_counts.sum(axis=1)
        fold = int(np.argmin(cost))
        group_fold[group] = fold
        fold_counts[fold] += need

    folds = np.full(len(labels), -1)
    placed = group_fold[group_index] >= 0
    folds[placed] = group_fold[group_index[placed]]
    for label in range(N_CLASSES):
        rows = np.flatnonzero(~placed & (labels == label))
        rows = rows[rng.permutation(len(rows))]
        quotas = _quotas(fold_counts[:, label], len(rows), rng)
        folds[rows] = np.repeat(np.arange(n_folds), quotas)
        fold_counts[:, label] += quotas
    return folds


def _quotas(current: np.ndarray, extra: int, rng: np.random.Generator) -> np.ndarray:
    """Split `extra` rows across folds so the totals come out as even as possible."""
    target = (current.sum() + extra) / len(current)
    deficit = np.maximum(target - current, 0)
    share = deficit * extra / deficit.sum() if deficit.sum() > 0 else np.full(len(current), extra / len(current))
    quotas = np.floor(share).astype(int)
    remainder = extra - quotas.sum()
    # Largest remainders get the leftover rows; a tiny random jitter breaks exact ties by seed.
    order = np.argsort(-(share - quotas + 1e-9 * rng.random(len(current))))
    quotas[order[:remainder]] += 1
    return quotas


def prompt_groups(train: pd.DataFrame) -> np.ndarray:
    """Group key per row: rows with the same cleaned prompt text share one."""
    return pd.factorize(train["prompt"])[0]


def check_fold_count(n_folds, train: pd.DataFrame) -> None:
    """Refuse an n_folds that is not from 2 to the number of distinct prompts: a fold holds whole prompts."""
    n_groups = len(np.unique(prompt_groups(train)))
    fold_count = integer(2, max(2, n_groups))
    if fold_count.check(n_folds) is None or n_groups < 2:
        raise SettingError(
            f"n_folds={n_folds!r}: the {len(train)} training rows hold {n_groups} distinct prompts, and rows of one "
            f"prompt share a fold; n_folds takes {fold_count.allowed()}. Set a smaller n_folds (5 is usual)"
        )


def save_folds(out_dir: Path | str, ids: np.ndarray, folds: np.ndarray, n_folds: int, seed: int) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / FOLDS_FILE, pd.DataFrame({"id": ids, "fold": folds}), index=False)
    meta = {"n_folds": n_folds, "seed": seed, "n_rows": int(len(ids)), "grouped_by": "prompt", "stratified_by": "label"}
    write_json(out_dir / FOLDS_META_FILE, meta, indent=2)
    return out_dir / FOLDS_FILE


def _read_fold_table(path: Path) -> pd.DataFrame:
    """folds.csv as the kit wrote it (integer id and fold columns), or an error naming the file."""
    try:
        saved = pd.read_csv(path, dtype="string", keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ArtifactError(f"{path}: not readable as a fold table ({type(error).__name__}); {REMAKE_FOLDS}") from None
    if list(saved.columns) != ["id", "fold"]:
        raise ArtifactError(f"{path}: columns are {', '.join(saved.columns)}, not id, fold; {REMAKE_FOLDS}")
    numbers = saved.apply(lambda column: pd.to_numeric(column.str.strip(), errors="coerce"))
    bad = numbers.isna().any(axis=1) | (numbers.round() != numbers).any(axis=1)
    if bad.any():
        lines = examples(np.flatnonzero(bad.to_numpy()) + 2)  # line 1 is the header
        raise ArtifactError(
            f"{path}: {int(bad.sum())} line(s) without an integer id and fold (lines {lines}); {REMAKE_FOLDS}"
        )
    return numbers.astype("int64")


def load_folds(out_dir: Path | str, train: pd.DataFrame) -> np.ndarray:
    """Folds saved in out_dir, in train's row order; refuses a file made for other rows."""
    path = Path(out_dir) / FOLDS_FILE
    saved = _read_fold_table(path)
    by_id = pd.Series(saved["fold"].to_numpy(), index=saved["id"].to_numpy())
    missing = train["id"][~train["id"].isin(by_id.index)]
    if len(missing) or len(by_id) != len(train):
        differences = join_present(
            counted(missing, "train id(s) are not in it"), f"it holds {len(by_id)} rows for {len(train)} train rows"
        )
        raise ArenaDataError(
            f"{path} was made for other data: {differences}. "
            "Delete it (and the model folders beside it) or use a fresh output folder."
        )
    return by_id.loc[train["id"].to_numpy()].to_numpy()


def shared_folds(out_dir: Path | str, train: pd.DataFrame, n_folds: int = 5, seed: int = 42) -> np.ndarray:
    """The run's folds: loaded from out_dir when a model made them already, else made and saved."""
    check_fold_count(n_folds, train)
    check_setting("seed", seed, integer(0), "the run's fold settings")
    out_dir = Path(out_dir)
    meta_path = out_dir / FOLDS_META_FILE
    if (out_dir / FOLDS_FILE).exists() and meta_path.exists():
        meta = read_json(meta_path, "the run's fold settings")
        if not {"n_folds", "seed"} <= set(meta):
            raise ArtifactError(f"{meta_path}: n_folds or seed is missing; {REMAKE_FOLDS}")
        if (meta["n_folds"], meta["seed"]) != (n_folds, seed):
            raise ArenaDataError(
                f"{out_dir / FOLDS_FILE} holds {meta['n_folds']} folds with seed {meta['seed']}, but this "
                f"notebook asks for {n_folds} folds with seed {seed}. Every model of a run must share one "
                "assignment: use the same n_folds and seed, or a fresh output folder."
            )
        return load_folds(out_dir, train)
    folds = assign_folds(train["label"].to_numpy(), prompt_groups(train), n_folds, seed)
    save_folds(out_dir, train["id"].to_numpy(), folds, n_folds, seed)
    return folds
