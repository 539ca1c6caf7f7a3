"""Issue 23 on the real rows: a member's A/B-swapped pass as a cascade stage, and the time budget
keeping swap-averaging on the share of a 25,000-row test the time allows.

    python experiments/swapped_stage.py ../shared/data/arena-sample RUN OUT [BUDGET_S]

RUN holds baseline/, minilm_lgbm/ and deberta_lora/ trained on DATA's train.csv with the kit's
cross-validation (a cross-encoder deberta_lora, swap-averaged, saves its two orders out-of-fold:
`build.py run --data-dir DATA -p architecture=cross_encoder -p max_length=192 --out RUN`).

1. The curve: cross-fitted OOF log loss of the cascade with deberta_lora one order and its swapped
   pass on 0-100% of the rows, beside the swap-averaged and one-order members alone.
2. The rehearsal: OUT gets DATA's train.csv and 25,000 synthetic test rows; the ensemble times each
   model on 64 of them and plans within BUDGET_S (default: the one-order estimate plus a third of
   the swapped pass), printing the budget's steps and the honest choice.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.paths import CACHE_ENV
from arenakit.core.schema import CLASS_COLUMNS, SAMPLE_SUBMISSION_FILE, TEST_FILE, TRAIN_FILE
from arenakit.data import load_competition
from arenakit.data.synthetic import generate
from arenakit.ensemble import EnsembleRun
from arenakit.ensemble.cascade_curve import SHARES
from arenakit.evaluation.metrics import log_loss

data_dir, run_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
MODELS = ["baseline", "minilm_lgbm", "deberta_lora"]
STAGE = "deberta_lora:swapped"
N_TEST = 25_000

# 1. The curve on the real rows.
competition = load_competition(data_dir)
run = EnsembleRun(run_dir, competition, models=MODELS, cascade={STAGE: 0.5})
run.fit_blend()
print(run.choice.table.round(4).to_string(), run.choice.reason, sep="\n")
y, oofs = run.fit_rows
member = next(m for m in run.members if m.name == "deberta_lora")
rows = member.oof.index
train_y = competition.train.set_index("id").loc[rows, "label"].to_numpy()
alone = {
    "swap-averaged": member.oof.to_numpy(),
    "one order": member.oof_orders[0].loc[rows].to_numpy(),
    "swapped pass": member.oof_orders[1].loc[rows].to_numpy(),
}
for label, proba in alone.items():
    print(f"deberta_lora {label} on its {len(rows)} out-of-fold rows: {log_loss(train_y, proba):.4f}")
gap = np.abs(alone["one order"] - alone["swapped pass"]).mean()
print(f"mean |one order - swapped pass|: {gap:.4f}")
curve = run.cascade_curve(n_rows=N_TEST, shares=SHARES)
print(curve[curve["model"] == STAGE].round(4).to_string())

# 2. The rehearsal at full size.
out_dir.mkdir(parents=True, exist_ok=True)
if not (out_dir / TEST_FILE).is_file():
    test = generate(0, N_TEST, seed=11)[1]
    (out_dir / TRAIN_FILE).write_bytes((data_dir / TRAIN_FILE).read_bytes())
    test.to_csv(out_dir / TEST_FILE, index=False)
    uniform = pd.DataFrame({"id": test["id"], **{column: 1 / 3 for column in CLASS_COLUMNS}})
    uniform.to_csv(out_dir / SAMPLE_SUBMISSION_FILE, index=False)
hidden = load_competition(out_dir)
os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="swapped-stage-cache-")
unlimited = EnsembleRun(run_dir, hidden, models=MODELS, time_budget_s=1e9)
estimates = unlimited.plan_budget(timing_rows=64)
print(estimates.to_string())
if len(sys.argv) > 4:
    budget = float(sys.argv[4])
else:
    swap_averaged = estimates.loc["deberta_lora", "estimate_s"]
    budget = estimates["estimate_s"].sum() - swap_averaged / 2 + swap_averaged / 6
# The timing above embedded its slice of rows into the cache: this run's timing must start cold, as Kaggle's does.
os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="swapped-stage-cache-")
started = time.perf_counter()
run = EnsembleRun(run_dir, hidden, models=MODELS, time_budget_s=budget)
print(run.plan_budget(timing_rows=64).to_string(), f"planned in {time.perf_counter() - started:.0f} s", sep="\n")
print(*run.notices, sep="\n")
run.fit_blend()
print(run.choice.table.round(4).to_string(), run.choice.reason, sep="\n")
print(run._cascade_record())
