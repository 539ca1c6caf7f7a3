"""Issue 23 on the real rows: what a later member keeps of its gain on a share of the rows, routed by
entropy (the kit's measure) or by the top-2 margin, and how large the noise is.

    python experiments/cascade_routing.py ../shared/data/arena-sample RUN

RUN holds baseline/ and minilm_lgbm/ folders trained on DATA's train.csv (`build.py run --data-dir
DATA baseline minilm_lgbm --out RUN`). Prints the cross-fitted OOF log loss at each share (mean over
5 cross-fit seeds) per measure, the share of the full gain kept, and the standard error over rows of
the full gain and of the difference between half and all the rows.
"""

import sys

import numpy as np
import pandas as pd

import arenakit.ensemble.cascade as cascade_module
from arenakit.data import load_competition
from arenakit.ensemble.cascade import CascadeSpec, cross_fitted_cascade

data_dir, run_dir = sys.argv[1], sys.argv[2]
train = load_competition(data_dir).train
y = train["label"].to_numpy()
oofs = {
    name: pd.read_csv(f"{run_dir}/{name}/oof.csv").set_index("id").reindex(train["id"]).to_numpy()
    for name in ("baseline", "minilm_lgbm")
}
spec = CascadeSpec(("baseline", "minilm_lgbm"), {})
SHARES = (0, 0.25, 0.5, 0.75, 1)


def negative_margin(proba):
    """Minus the gap between the two most probable classes: higher is less certain, as entropy is."""
    ordered = np.sort(proba, axis=1)
    return ordered[:, 1] - ordered[:, 2]


def standard_error(differences):
    return differences.std() / np.sqrt(len(differences))


def row_losses(share, seed=0):
    proba = cross_fitted_cascade(y, oofs, spec.with_share("minilm_lgbm", share), 5, seed)
    return -np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1))


entropy = cascade_module.entropy
for measure, function in (("entropy", entropy), ("margin", negative_margin)):
    cascade_module.entropy = function  # the cascade routes by this module-level function
    losses = {share: np.mean([row_losses(share, seed).mean() for seed in range(5)]) for share in SHARES}
    gain = losses[0] - losses[1]
    kept = {share: (losses[0] - loss) / gain for share, loss in losses.items()}
    none, half, full = row_losses(0), row_losses(0.5), row_losses(1)
    print(measure, {share: round(float(loss), 4) for share, loss in losses.items()})
    print("  share of the full gain kept", {share: round(float(k), 2) for share, k in kept.items()})
    print(f"  full gain {np.mean(none - full):.4f} +- {standard_error(none - full):.4f}")
    print(f"  half minus full {np.mean(half - full):.4f} +- {standard_error(half - full):.4f}")
cascade_module.entropy = entropy
