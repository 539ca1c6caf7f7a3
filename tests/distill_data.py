"""Planted-signal data for distillation: labels are noisy flips of a clean rule, the teacher knows the rule.

    raw, clean = length_rule_rows(240, seed=0)          # competition format, winner columns hold the clean label
    noisy = flip_labels(raw, clean, rate=0.4, seed=1)   # each label replaced by another class with probability rate
    teacher = rule_teacher(clean, rate=0.4)             # (n, 3): P(noisy label | row), the best any model can say

Scored against the noisy labels, the rule's posterior is the best possible prediction; a student
that learns from it (distilled) gets closer to it, from few rows, than one that learns from the
noisy labels alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.schema import CLASS_COLUMNS, N_CLASSES
from planted_signal import FILLER, TOPICS, first_test_id, planted_rows

# Words more in A than in B (or fewer) at which the rule calls a winner; between: a tie.
MARGIN = 6


def length_rule_rows(
    n_rows: int, seed: int = 0, first_id: int = 1000, twins: bool = False
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows whose clean label is the longer response (by MARGIN words or more), else a tie; the clean labels.

    twins: rows 2k and 2k+1 have the same two responses under different prompts (so the run's
    folds, grouped by prompt, may part them): what a memorising teacher carries from one to the other.
    """
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for row in range(n_rows):
        if not (twins and row % 2):
            words_a, words_b = (int(n) for n in rng.integers(4, 40, size=2))
            label = 0 if words_a - words_b >= MARGIN else 1 if words_b - words_a >= MARGIN else 2
            texts = [" ".join(rng.choice(FILLER, size=words)) for words in (words_a, words_b)]
        labels.append(label)
        rows.append(
            {
                "id": first_id + row,
                "model_a": "model-x",
                "model_b": "model-y",
                "prompt": json.dumps([f"tell me about {rng.choice(TOPICS)} {' '.join(rng.choice(FILLER, size=3))}"]),
                "response_a": json.dumps([texts[0]]),
                "response_b": json.dumps([texts[1]]),
                **{column: int(label == k) for k, column in enumerate(CLASS_COLUMNS)},
            }
        )
    return pd.DataFrame(rows), np.array(labels)


def marker_rule_rows(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The LoRA tests' planted rows (a marker word in the winning response) and their clean labels."""
    raw = planted_rows(n_rows, seed)
    return raw, raw[list(CLASS_COLUMNS)].to_numpy().argmax(axis=1)


def flip_labels(raw: pd.DataFrame, clean: np.ndarray, rate: float, seed: int) -> pd.DataFrame:
    """The rows with each label replaced, with probability rate, by one of the two other classes."""
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(clean)) < rate
    noisy = np.where(flipped, (clean + rng.integers(1, N_CLASSES, size=len(clean))) % N_CLASSES, clean)
    return raw.assign(**{column: (noisy == k).astype(int) for k, column in enumerate(CLASS_COLUMNS)})


def rule_teacher(clean: np.ndarray, rate: float) -> np.ndarray:
    """P(noisy label | row) under the flip: 1 - rate on the clean class, rate / 2 on each other."""
    teacher = np.full((len(clean), N_CLASSES), rate / 2)
    teacher[np.arange(len(clean)), clean] = 1 - rate
    return teacher


def smoothed(labels: np.ndarray, confidence: float) -> np.ndarray:
    """(n, 3): confidence on each label, the rest shared by the two other classes."""
    proba = np.full((len(labels), N_CLASSES), (1 - confidence) / 2)
    proba[np.arange(len(labels)), labels] = confidence
    return proba


def memorising_teacher(noisy: np.ndarray, folds: np.ndarray, confidence: float = 0.8) -> dict[int, np.ndarray]:
    """Per fold m, teacher fold m's (n, 3) predictions on every row: a 1-nearest-neighbour over twins.

    Teacher fold m knows the (noisy) labels of its training rows (the folds other than m) and
    repeats them; on a held-out row it repeats the label of the row's twin when it trained on the
    twin, else it says 1/3 each. The rows are those of length_rule_rows(twins=True).
    """
    twin = np.arange(len(noisy)) ^ 1
    predictions = {}
    for fold in (int(k) for k in np.unique(folds)):
        trained = folds != fold
        held_out = np.where(trained[twin][:, None], smoothed(noisy[twin], confidence), 1 / N_CLASSES)
        predictions[fold] = np.where(trained[:, None], smoothed(noisy, confidence), held_out)
    return predictions


def teacher_frame(ids, folds, proba: np.ndarray) -> pd.DataFrame:
    """A teacher file's rows: id, fold and the three class columns."""
    return pd.DataFrame({"id": ids, "fold": folds, **{column: proba[:, k] for k, column in enumerate(CLASS_COLUMNS)}})


def per_fold_file(ids, predictions: dict[int, np.ndarray]) -> pd.DataFrame:
    """Every teacher fold's predictions on every row (the honest scheme: student fold k reads teacher fold k)."""
    return pd.concat([teacher_frame(ids, fold, proba) for fold, proba in predictions.items()], ignore_index=True)


def oof_only_file(ids, folds: np.ndarray, predictions: dict[int, np.ndarray]) -> pd.DataFrame:
    """One prediction per row, by the teacher fold that held it out (what a teacher's oof.csv holds)."""
    proba = np.stack([predictions[int(fold)][row] for row, fold in enumerate(folds)])
    return teacher_frame(ids, folds, proba)


def write_competition(folder: Path, raw: pd.DataFrame, n_test: int = 6) -> Path:
    """A competition folder of these train rows (and a few test rows drawn like them)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw.to_csv(folder / "train.csv", index=False)
    test, _ = length_rule_rows(n_test, seed=99, first_id=first_test_id(len(raw)))
    test[["id", "prompt", "response_a", "response_b"]].to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": test["id"], **{column: 1 / 3 for column in CLASS_COLUMNS}}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder
