"""What the submission uses: the fitted blend, equal weights or the best single model, by honest scores.

    choice = choose_blend(y, oofs)     # oofs: name -> (n, 3) out-of-fold predictions, NaN where not predicted
    choice.blend                       # the chosen one, ready for test predictions
    choice.chosen, choice.reason       # its name, and why, with the figures
    choice.table                       # every candidate on the same rows

A fitted blend's score on the rows it was fitted on flatters it. The honest figure is
cross-fitted: the blend fitted on four fifths of the rows and scored on the fifth it did not
see, each fifth in turn. Equal weights and a single model fit nothing, so their out-of-fold
scores are honest as they stand. The candidate with the lowest honest score wins; on a tie the
one that fits less (a single model, then equal weights). A model that predicted only some rows
(trained on some folds) is listed with its score on its own rows, but cannot be chosen alone:
that score is on other rows than the rest.

With a cascade (arenakit.ensemble.cascade: later members on the least certain rows only) it is
one more candidate, cross-fitted the same way (thresholds and stage blends fitted on four fifths,
scored on the fifth), listed last: it wins only where it scores best. A member the time budget
allows only on a share of the rows (spec.required) can take part in no other candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from arenakit.core.schema import N_CLASSES
from arenakit.ensemble.blend import Blend, checked_predictions, equal_blend, fit_blend, predicted_rows, single_blend
from arenakit.ensemble.cascade import CASCADE, Cascade, CascadeSpec, cross_fitted_cascade, fit_cascade
from arenakit.evaluation.metrics import log_loss

N_SPLITS = 5
MIN_ROWS_PER_PART = 10  # below n_splits times this, a cross-fitted score is too noisy to choose by
FITTED = "fitted blend"
EQUAL = "equal weights"


def single_label(name: str) -> str:
    return f"single: {name}"


@dataclass
class BlendChoice:
    chosen: str  # the table's label of the chosen candidate
    blend: Blend | Cascade  # what the submission uses
    fitted: Blend  # the fitted blend, chosen or not
    table: pd.DataFrame  # per candidate: log_loss (honest), in_sample, rows, candidate, chosen, vs_best_single
    reason: str
    oof: np.ndarray  # the chosen candidate's out-of-fold predictions (cross-fitted for the fitted blend)
    cascade: Cascade | None = None  # the cascade candidate, chosen or not (None: none was judged)


def cross_fitted_predictions(
    y, probas: Mapping[str, np.ndarray], n_splits: int = N_SPLITS, seed: int = 0, **options
) -> np.ndarray:
    """Each row predicted by the blend fitted on the other parts of the rows (the honest predictions)."""
    y, probas = checked_predictions(y, probas)
    part = np.random.default_rng(seed).permutation(len(y)) % n_splits
    pooled = np.empty((len(y), N_CLASSES))
    for k in range(n_splits):
        held_out = part == k
        # A partial model with no row in the fitting part sits this part out (its weight cannot be fitted).
        fitting = {name: p[~held_out] for name, p in probas.items() if predicted_rows(p[~held_out]).any()}
        blend = fit_blend(y[~held_out], fitting, **options)
        pooled[held_out] = blend.predict({name: p[held_out] for name, p in probas.items()})
    return pooled


def cross_fitted_log_loss(y, probas: Mapping[str, np.ndarray], n_splits: int = N_SPLITS, seed: int = 0, **options):
    """Log loss of the blend on each part of the rows when fitted on the other parts."""
    return log_loss(np.asarray(y), cross_fitted_predictions(y, probas, n_splits, seed, **options))


def choose_blend(
    y,
    probas: Mapping[str, np.ndarray],
    n_splits: int = N_SPLITS,
    seed: int = 0,
    cascade: CascadeSpec | None = None,
    **options,
):
    """Fit the blend, score every candidate honestly on the same rows and pick the lowest (with a cascade spec,
    the cascade is a candidate too)."""
    y, every = checked_predictions(y, probas)
    restricted = set(cascade.required) if cascade is not None else set()
    probas = {name: p for name, p in every.items() if name not in restricted}
    coverage = {name: predicted_rows(p) for name, p in probas.items()}
    fitted = fit_blend(y, probas, **options)
    rows, candidates = {}, {}  # table rows by label; label -> (blend, its honest out-of-fold predictions)
    for name, proba in probas.items():
        covered = coverage[name]
        score = log_loss(y[covered], proba[covered])
        if covered.all():
            candidates[single_label(name)] = (single_blend(name, len(y)), proba)
            rows[single_label(name)] = (score, score, len(y), True)
        else:  # shown for what it is worth, on other rows than the rest: not a candidate
            rows[f"{single_label(name)}, on its {int(covered.sum())} rows"] = (score, score, int(covered.sum()), False)
    if len(probas) > 1:  # one model's "equal weights" is that model
        equal = equal_blend(probas)
        equal.n_rows, equal.model_rows = len(y), tuple(int(c.sum()) for c in coverage.values())
        candidates[EQUAL] = (equal, equal.predict(probas))
        rows[EQUAL] = (log_loss(y, candidates[EQUAL][1]),) * 2 + (len(y), True)
    in_sample = log_loss(y, fitted.predict(probas))
    if len(y) >= n_splits * MIN_ROWS_PER_PART:
        candidates[FITTED] = (fitted, cross_fitted_predictions(y, probas, n_splits, seed, **options))
        rows[FITTED] = (log_loss(y, candidates[FITTED][1]), in_sample, len(y), True)
    else:
        rows[FITTED] = (np.nan, in_sample, len(y), False)
    # Stage 1 must have predicted every row: it is what every other row keeps.
    judged = cascade is not None and predicted_rows(every[cascade.order[0]]).all()
    if judged and len(y) >= n_splits * MIN_ROWS_PER_PART:
        stages = {name: every[name] for name in cascade.order}
        fitted_cascade = fit_cascade(y, stages, cascade, **options)
        candidates[CASCADE] = (fitted_cascade, cross_fitted_cascade(y, stages, cascade, n_splits, seed, **options))
        rows[CASCADE] = (
            log_loss(y, candidates[CASCADE][1]),
            log_loss(y, fitted_cascade.predict(stages, gaps=True)),
            len(y),
            True,
        )
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["log_loss", "in_sample", "rows", "candidate"])
    # Candidates are in order of what they fit (singles, equal weights, the fitted blend): idxmin keeps the first.
    chosen = table.loc[list(candidates), "log_loss"].idxmin()
    table["chosen"] = table.index == chosen
    best_single = table.loc[[label for label in candidates if label.startswith("single: ")], "log_loss"].min()
    table["vs_best_single"] = (table["log_loss"] - best_single).where(table["candidate"])
    blend, oof = candidates[chosen]
    judged = candidates.get(CASCADE, (None,))[0]
    return BlendChoice(chosen, blend, fitted, table, _reason(table, chosen, n_splits), oof, judged)


def _reason(table: pd.DataFrame, chosen: str, n_splits: int) -> str:
    """The choice in one sentence, with the figures it rests on."""
    scores = table.loc[table["candidate"], "log_loss"]
    others = ", ".join(f"{label} {score:.4f}" for label, score in scores.drop(chosen).sort_values().items())
    others = others or "no other candidate"
    n_rows = int(table.loc[chosen, "rows"])
    text = f"chose {chosen}: log loss {scores[chosen]:.4f} on the {n_rows} out-of-fold rows, against {others}"
    if chosen in (FITTED, CASCADE):
        text += f" (cross-fitted: fitted on {n_splits - 1}/{n_splits} of the rows, scored on the rest, in turn)"
    elif not table.loc[FITTED, "candidate"]:
        text += f"; the fitted blend was not judged: {n_rows} rows are too few to cross-fit it in {n_splits} parts"
    elif table.loc[FITTED, "log_loss"] > scores[chosen]:
        text += (
            f"; the fitted blend scored {table.loc[FITTED, 'in_sample']:.4f} on the rows it was fitted on but "
            f"{table.loc[FITTED, 'log_loss']:.4f} on rows it had not seen (cross-fitted), so its weights are not used"
        )
    return text
