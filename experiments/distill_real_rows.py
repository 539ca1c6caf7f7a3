"""Issue 22 on the real rows: minilm_lgbm with and without the run's ensemble as per-fold teacher, and
how optimistic the same teacher reads when given OOF-only. One run folder per seed under OUT; the
ensemble teacher each writes (OUT/seedK/ensemble/teacher_folds.csv) is what siamese_student.sh reads.

    python experiments/distill_real_rows.py ../shared/data/arena-sample build/distill 0 1 2
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.atomic import write_json
from arenakit.core.schema import CLASS_COLUMNS
from arenakit.data import load_competition, write_teacher_file
from arenakit.data.folds import shared_folds
from arenakit.ensemble import write_ensemble_teacher
from arenakit.ensemble.blend import fit_blend
from arenakit.models.baseline import BaselineModel
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate
from arenakit.pipeline.teachers import load_teacher

data_dir, out_root, seeds = Path(sys.argv[1]), Path(sys.argv[2]), [int(s) for s in sys.argv[3:]]
train = load_competition(data_dir).train
y = train["label"].to_numpy()
rows = []
for seed in seeds:
    out = out_root / f"seed{seed}"
    folds = shared_folds(out, train, n_folds=5, seed=seed)
    members = {}
    for name, model in (("baseline", BaselineModel(seed=seed)), ("minilm_lgbm", MiniLMLightGBMModel(seed=seed))):
        members[name] = cross_validate(model, train, folds, name=name, progress=False)
        members[name].save(out, train)
    oofs = {name: run.oof for name, run in members.items()}
    blend = fit_blend(y, oofs)
    (out / "ensemble").mkdir(parents=True, exist_ok=True)
    write_json(out / "ensemble" / "blend.json", blend.to_dict())
    write_ensemble_teacher(out, train)
    row = {"seed": seed, **{name: run.metrics["oof_log_loss"] for name, run in members.items()}}
    for weight in (0.5, 0.9):
        student = MiniLMLightGBMModel(seed=seed, distill_weight=weight)
        teacher = load_teacher("ensemble", out, train)
        run = cross_validate(student, train, folds, name="student", teacher=teacher, progress=False)
        row[f"student_per_fold_w{weight}"] = run.metrics["oof_log_loss"]
    blend_oof = blend.predict(oofs)
    oof_only = pd.DataFrame({"id": train["id"], "fold": folds, **dict(zip(CLASS_COLUMNS, blend_oof.T))})
    write_teacher_file(oof_only, out / "oof_only.csv")
    teacher = load_teacher(str(out / "oof_only.csv"), out, train)
    student = MiniLMLightGBMModel(seed=seed, distill_weight=0.5)
    row["student_oof_only_w0.5"] = cross_validate(
        student, train, folds, name="student", teacher=teacher, progress=False
    ).metrics["oof_log_loss"]
    print("ROW", json.dumps(row), flush=True)
    rows.append(row)
table = pd.DataFrame(rows)
print(table.to_string(), table.drop(columns=["seed"]).mean().round(4).to_string(), sep="\n")
assert np.isfinite(table.drop(columns=["seed"]).to_numpy()).all()
