"""Soft targets for every trainable model: a teacher's probabilities beside the labels (issue 22).

A fit frame may carry a teacher's probabilities (core.schema.TEACHER_COLUMNS, NaN where a row has
none) and a row weight (WEIGHT_COLUMN, absent = 1). A row's target is then

    labelled, with a teacher:   (1 - distill_weight) * CE(label) + distill_weight * T^2 * KL(teacher_T || student_T)
    labelled, no teacher:       CE(label)                       (it trains on its label alone)
    unlabelled (UNLABELLED):    T^2 * KL(teacher_T || student_T) (it trains on its teacher alone)

times its row weight. teacher_T is the teacher's distribution at temperature T (p^(1/T), renormalised).

The LoRA family computes that loss in its training loop (distillation_loss below). LightGBM and
the logistic regression take the standard weighted-rows form instead: each row appears once per
class, with that class as label and `(1 - w) * onehot + w * teacher_T` (times the row weight) as
weight; their log loss on those rows is the soft-target cross-entropy, which differs from the KL
only by the teacher's entropy (a constant), so T^2 does not apply there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from arenakit.core.errors import examples
from arenakit.core.schema import N_CLASSES, TEACHER_COLUMNS, UNLABELLED, WEIGHT_COLUMN
from arenakit.core.settings import real
from arenakit.core.swap import SWAP_COLUMNS
from arenakit.models.checks import check_labels, check_parsed_frame

# The two settings every trainable model declares (defaults: the LMSYS 1st-place recipe's pure KL
# would be weight 1; 0.5 keeps the labels' information where the teacher is wrong, T = 1 leaves the
# teacher's probabilities as they are).
DISTILL_SETTINGS = {
    "distill_weight": real(0, 1),
    "distill_temperature": real(0, above=True),
}
DEFAULT_DISTILL_WEIGHT = 0.5
DEFAULT_DISTILL_TEMPERATURE = 1.0
# The floor under a teacher probability before its log is taken (a teacher saying exactly 0).
_FLOOR = 1e-7


@dataclass(frozen=True)
class SoftTargets:
    """Per row: the label (UNLABELLED = -1 where none), the teacher's probabilities (NaN rows: none), a weight."""

    labels: np.ndarray  # (n,) int64
    teacher: np.ndarray  # (n, 3) float64, NaN rows without a teacher
    weight: np.ndarray  # (n,) float64

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def has_teacher(self) -> np.ndarray:
        return ~np.isnan(self.teacher).any(axis=1)

    @property
    def labelled(self) -> np.ndarray:
        return self.labels >= 0

    def subset(self, rows) -> SoftTargets:
        return SoftTargets(self.labels[rows], self.teacher[rows], self.weight[rows])

    def swapped(self) -> SoftTargets:
        """The targets of the A/B-swapped rows: the teacher's A and B columns exchanged, labels 0 and 1 too."""
        from arenakit.core.swap import swap_labels

        return SoftTargets(swap_labels(self.labels), self.teacher[:, SWAP_COLUMNS], self.weight)

    def with_swaps(self, interleave: bool = True) -> SoftTargets:
        """Each row followed by its swap (interleave), or all swaps after all rows: as core.swap.with_swapped_rows."""
        swapped = self.swapped()
        if interleave:
            return SoftTargets(
                np.column_stack([self.labels, swapped.labels]).ravel(),
                np.stack([self.teacher, swapped.teacher], axis=1).reshape(-1, N_CLASSES),
                np.repeat(self.weight, 2),
            )
        return SoftTargets(
            np.concatenate([self.labels, swapped.labels]),
            np.concatenate([self.teacher, swapped.teacher]),
            np.concatenate([self.weight, self.weight]),
        )


def carries_targets(frame: pd.DataFrame) -> bool:
    """Whether a fit frame carries a teacher or row weights (else a model trains on its labels as before)."""
    return any(column in frame.columns for column in (*TEACHER_COLUMNS, WEIGHT_COLUMN))


def fit_targets(frame: pd.DataFrame, y: np.ndarray | None = None) -> SoftTargets:
    """The labels, teacher probabilities and row weights of a fit frame, checked; errors name the rows.

    Refused: a teacher with only some of its three columns, a teacher row that is not a
    probability distribution, a negative or non-finite weight, an unlabelled row without a teacher.
    """
    check_parsed_frame(frame)
    ids = frame["id"].to_numpy() if "id" in frame.columns else np.arange(len(frame))
    if y is None:
        if "label" not in frame.columns:
            raise ValueError(
                "fit needs labels: pass y or a frame with a 'label' column (a train frame from load_competition)"
            )
        y = frame["label"].to_numpy()
    labels = np.asarray(pd.to_numeric(pd.Series(np.asarray(y)), errors="coerce").fillna(UNLABELLED), dtype=np.float64)
    teacher = _teacher(frame, ids)
    has_teacher = ~np.isnan(teacher).any(axis=1)
    unlabelled = labels == UNLABELLED
    orphans = np.flatnonzero(unlabelled & ~has_teacher)
    if len(orphans):
        raise ValueError(
            f"{len(orphans)} unlabelled row(s) (label {UNLABELLED}) have no teacher probabilities: row id(s) "
            f"{examples(ids[orphans])}; give them a teacher (teacher=...) or drop them from the extra data"
        )
    labelled = np.flatnonzero(~unlabelled)
    checked = np.full(len(frame), UNLABELLED, dtype=np.int64)
    if len(labelled):
        # A teacher gives every class some mass: then the labels need not hold every class.
        every_class = not has_teacher.any()
        checked[labelled] = check_labels(labels[labelled], len(labelled), ids[labelled], every_class)
    return SoftTargets(checked, teacher, _weights(frame, ids))


def _teacher(frame: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    present = [column for column in TEACHER_COLUMNS if column in frame.columns]
    if not present:
        return np.full((len(frame), N_CLASSES), np.nan)
    if len(present) != N_CLASSES:
        missing = sorted(set(TEACHER_COLUMNS) - set(present))
        raise ValueError(f"the fit frame has teacher column(s) {present} but not {missing}: give all three or none")
    teacher = frame[list(TEACHER_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64, copy=True)
    partial = np.isnan(teacher).any(axis=1) & ~np.isnan(teacher).all(axis=1)
    given = ~np.isnan(teacher).any(axis=1)
    bad = partial | (given & ((teacher < 0).any(axis=1) | (np.abs(teacher.sum(axis=1) - 1) > 1e-3)))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{len(rows)} row(s) have teacher probabilities that are not a distribution over A, B, tie "
            f"(three numbers from 0 to 1 summing to 1, or all three NaN for no teacher): row id(s) "
            f"{examples(ids[rows])}; fix the teacher's predictions"
        )
    teacher[given] /= teacher[given].sum(axis=1, keepdims=True)
    return teacher


def _weights(frame: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    if WEIGHT_COLUMN not in frame.columns:
        return np.ones(len(frame))
    weight = pd.to_numeric(frame[WEIGHT_COLUMN], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(weight) | (weight < 0))
    if len(bad):
        raise ValueError(
            f"{len(bad)} row(s) have a {WEIGHT_COLUMN} that is not a number from 0 up: row id(s) "
            f"{examples(ids[bad])}; fix the extra data's weights"
        )
    return weight


def soften(teacher: np.ndarray, temperature: float) -> np.ndarray:
    """The teacher's distribution at a temperature: p^(1/T), renormalised (T > 1 flattens it); NaN rows stay NaN."""
    if temperature == 1.0:
        return teacher
    logits = np.log(np.maximum(teacher, _FLOOR)) / temperature
    logits -= np.nanmax(logits, axis=1, keepdims=True)
    soft = np.exp(logits)
    return soft / soft.sum(axis=1, keepdims=True)


def class_weights(targets: SoftTargets, distill_weight: float, temperature: float) -> np.ndarray:
    """(n, 3): each row's weight per class in the weighted-rows form (see the module's docstring)."""
    n = len(targets)
    onehot = np.zeros((n, N_CLASSES))
    labelled = targets.labelled
    onehot[np.flatnonzero(labelled), targets.labels[labelled]] = 1.0
    teacher = soften(targets.teacher, temperature)
    has_teacher = targets.has_teacher
    weights = onehot.copy()
    both = labelled & has_teacher
    weights[both] = (1 - distill_weight) * onehot[both] + distill_weight * teacher[both]
    only_teacher = ~labelled & has_teacher
    weights[only_teacher] = teacher[only_teacher]
    return weights * targets.weight[:, None]


def expand_rows(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row index, class, weight) for every row and class of positive weight, row by row.

    With one-hot weights this is each row once with its label and weight 1, in order: the plain fit.
    """
    rows, classes = np.nonzero(weights > 0)
    return rows, classes, weights[rows, classes]


def swap_weights(weights: np.ndarray) -> np.ndarray:
    """Class weights of the A/B-swapped rows."""
    return np.asarray(weights)[:, SWAP_COLUMNS]


def distillation_loss(logits, labels, teacher, row_weight, distill_weight: float, temperature: float, smoothing=0.0):
    """The per-batch loss of the LoRA family (torch): the module docstring's target, averaged over the batch.

    logits (b, 3); labels (b,) long, UNLABELLED where none; teacher (b, 3) float, NaN rows without
    one; row_weight (b,). Without any teacher it is the plain (label-smoothed) cross-entropy.
    """
    import torch
    import torch.nn.functional as F

    labelled = labels >= 0
    has_teacher = ~torch.isnan(teacher).any(dim=1)
    ce = F.cross_entropy(logits, labels.clamp(min=0), reduction="none", label_smoothing=smoothing)
    ce = torch.where(labelled, ce, torch.zeros_like(ce))
    safe = torch.where(has_teacher[:, None], teacher, torch.full_like(teacher, 1.0 / N_CLASSES))
    soft = torch.softmax(torch.log(safe.clamp(min=_FLOOR)) / temperature, dim=1)
    student = torch.log_softmax(logits / temperature, dim=1)
    kl = (soft * (torch.log(soft.clamp(min=_FLOOR)) - student)).sum(dim=1) * temperature**2
    mix = torch.where(
        labelled & has_teacher,
        (1 - distill_weight) * ce + distill_weight * kl,
        torch.where(has_teacher, kl, ce),
    )
    return (mix * row_weight).mean()


__all__ = [
    "DEFAULT_DISTILL_TEMPERATURE",
    "DEFAULT_DISTILL_WEIGHT",
    "DISTILL_SETTINGS",
    "SoftTargets",
    "carries_targets",
    "class_weights",
    "distillation_loss",
    "expand_rows",
    "fit_targets",
    "soften",
    "swap_weights",
]
