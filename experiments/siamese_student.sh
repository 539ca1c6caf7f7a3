#!/usr/bin/env bash
# Issue 22 on the real rows: the Siamese MiniLM student (the CPU LoRA profile), fold 0, with and without
# the ensemble teacher distill_real_rows.py wrote for that seed (same folds: its folds.csv is copied).
#     bash experiments/siamese_student.sh ../shared/data/arena-sample build/distill build/siamese 0 1 2
set -euo pipefail
data=$1 teachers=$2 out_root=$3
shift 3
for seed in "$@"; do
  for mode in alone ensemble; do
    out=$out_root/seed$seed-$mode
    mkdir -p "$out" && cp "$teachers/seed$seed"/folds.* "$out"/
    teacher=()
    [ "$mode" = ensemble ] && teacher=(--teacher "$teachers/seed$seed/ensemble/teacher_folds.csv")
    python -m arenakit.train lora --data-dir "$data" --out "$out" --folds 0 --seed "$seed" -p profile=cpu \
      "${teacher[@]}" > "$out.log" 2>&1
    python -c "import json, sys; m = json.load(open(sys.argv[1])); print(sys.argv[2], m['oof_log_loss'])" \
      "$out/deberta_lora/metrics.json" "seed $seed $mode"
  done
done
