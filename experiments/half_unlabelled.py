"""Issue 22 on the real rows: half the rows (by prompt) as unlabelled extra data, pseudo-labelled per fold
by a minilm_lgbm teacher trained on the other half, against that half alone (5 folds per seed).

    python experiments/half_unlabelled.py ../shared/data/arena-sample build/half 0 1 2
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.data import load_competition
from arenakit.data.folds import prompt_groups, shared_folds
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate
from arenakit.pipeline.teachers import load_teacher, read_extra_rows, training_rows

SAMPLE, OUT = Path(sys.argv[1]), Path(sys.argv[2])
comp = load_competition(SAMPLE)
raw = pd.read_csv(SAMPLE / "train.csv")
assert (raw["id"].to_numpy() == comp.train["id"].to_numpy()).all()
rows = []
for seed in [int(s) for s in sys.argv[3:]]:
    out = OUT / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    groups = prompt_groups(comp.train)
    chosen = np.random.default_rng(seed).permutation(np.unique(groups))[: len(np.unique(groups)) // 2]
    in_a = np.isin(groups, chosen)
    half_a = comp.train[in_a].reset_index(drop=True)
    extra_file = out / "half_b_unlabelled.csv"
    raw[~in_a].drop(columns=["winner_model_a", "winner_model_b", "winner_tie"]).to_csv(extra_file, index=False)
    folds = shared_folds(out, half_a, n_folds=5, seed=seed)
    started = time.time()
    teacher_run = cross_validate(MiniLMLightGBMModel(seed=seed), half_a, folds, name="minilm_lgbm", progress=False)
    teacher_run.save(out, half_a)
    extra, report = read_extra_rows(str(extra_file), half_a, comp.test)
    teacher = load_teacher("minilm_lgbm", out, training_rows(half_a, extra))
    row = {
        "seed": seed,
        "half_a_rows": len(half_a),
        "extra_rows": len(extra),
        "a_alone": teacher_run.metrics["oof_log_loss"],
    }
    with_teacher = cross_validate(
        MiniLMLightGBMModel(seed=seed), half_a, folds, name="student", teacher=teacher, progress=False
    )
    row["a_with_teacher_no_extra"] = with_teacher.metrics["oof_log_loss"]
    pseudo = cross_validate(
        MiniLMLightGBMModel(seed=seed), half_a, folds, name="student", teacher=teacher, extra=extra, progress=False
    )
    row["a_plus_b_pseudo_labelled"] = pseudo.metrics["oof_log_loss"]
    row["seconds"] = round(time.time() - started, 1)
    print("ROW", json.dumps(row), flush=True)
    rows.append(row)
table = pd.DataFrame(rows)
print(table.to_string())
print(table.drop(columns=["seed"]).mean().round(4).to_string())
