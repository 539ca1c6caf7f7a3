"""Benchmarks that print figures: python -m arenakit.bench [--rows N] [--stages data ...]

Each stage runs in a fresh Python process on a synthetic sample written beforehand, so its
peak memory (the child's max RSS) counts only what that stage loads, not the generator.

    data   load + parse + clean + fold assignment of the competition files
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REAL_TRAIN_ROWS = 57_477


def stage_data(data_dir: Path) -> dict:
    from arenakit.data import load_competition
    from arenakit.folds import assign_folds, prompt_groups

    started = time.perf_counter()
    competition = load_competition(data_dir, warn=False)
    loaded = time.perf_counter()
    assign_folds(competition.train["label"].to_numpy(), prompt_groups(competition.train), n_folds=5, seed=42)
    finished = time.perf_counter()
    rows = len(competition.train) + len(competition.test)
    return {
        "rows": rows,
        "load_parse_clean_s": loaded - started,
        "folds_s": finished - loaded,
        "total_s": finished - started,
        "rows_per_s": rows / (finished - started),
    }


STAGES = {"data": stage_data}


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage_in_child(stage: str, data_dir: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "arenakit.bench", "--child", stage, str(data_dir)],
        capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark stage {stage} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=REAL_TRAIN_ROWS, help="synthetic train rows (default: the real train size)")
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=list(STAGES))
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        stage, data_dir = args.child
        result = STAGES[stage](Path(data_dir))
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    from arenakit.synthetic import write_sample

    with tempfile.TemporaryDirectory(prefix="arenakit-bench-") as tmp:
        started = time.perf_counter()
        data_dir = write_sample(Path(tmp), n_train=args.rows, n_test=3, seed=0)
        size_mb = sum(f.stat().st_size for f in data_dir.iterdir()) / 1e6
        print(f"synthetic sample: {args.rows} train rows, {size_mb:.0f} MB, written in {time.perf_counter() - started:.1f} s")
        for stage in args.stages:
            result = run_stage_in_child(stage, data_dir)
            figures = "  ".join(f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in result.items())
            print(f"{stage}: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
