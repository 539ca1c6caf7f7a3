"""Benchmarks that print figures: python -m arenakit.bench [--rows N] [--stages data features embedder]

Each stage runs in a fresh Python process on a synthetic sample written beforehand, so its
peak memory (the child's max RSS) counts only what that stage loads, not the generator. Each
stage prints a line for the reader, "<stage>: key=value ...", then the same figures as one JSON
object on a line of its own ({"stage": ..., ...}), for a regression check: `grep '^{'`.

    data      load + parse + clean + fold assignment of the competition files
    features  the length and structure featurizer on the parsed train rows
    embedder  the kit's embedder against plain SentenceTransformer.encode, and a cached re-run;
              on --embedder-data (e.g. ../shared/data/arena-sample) when given, else on the
              synthetic sample, capped at --embedder-rows rows (a CPU embeds a few thousand
              texts a minute)
    lora      LoRA fine-tuning and inference of the MiniLM cross-encoder (tokens/s), dynamic
              padding with length sorting against fixed max_length padding (arenakit.bench.lora);
              on --embedder-data when given, first --embedder-rows rows, --lora-max-length tokens
    siamese   the Siamese model (two sequences of --lora-max-length / 2 tokens a row, one pass)
              against the cross-encoder with swap averaging (one of --lora-max-length, two passes):
              training and inference rows/s, interleaved (arenakit.bench.siamese)
    decoder   a tiny random Gemma-2 on the data's rows: token-budget batches against 8-row batches
              (length-sorted, in row order, padded to max_length) at --decoder-max-lengths, 8-bit
              against fp32, and the written Gemma-2-9B estimate for 2 x T4 (arenakit.bench.decoder);
              on --embedder-data when given, first --decoder-rows rows. Run only when named in
              --stages: it takes minutes on a CPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from arenakit.data import write_sample

REAL_TRAIN_ROWS = 57_477


# Each stage's module and function: imported only in the stage's own process, so the parent
# (which writes the sample and prints) never loads torch or transformers.
STAGES = {
    "data": ("arenakit.bench.data", "stage_data"),
    "features": ("arenakit.bench.data", "stage_features"),
    "embedder": ("arenakit.bench.embedder", "stage_embedder"),
    "lora": ("arenakit.bench.lora", "stage_lora"),
    "decoder": ("arenakit.bench.decoder", "stage_decoder"),
    "siamese": ("arenakit.bench.siamese", "stage_siamese"),
}
DEFAULT_STAGES = ("data", "features", "embedder", "lora", "siamese")
# Stages that run on the model data (--embedder-data) and take the row cap.
MODEL_STAGES = ("embedder", "lora", "siamese", "decoder")


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage_in_child(stage: str, data_dir: Path, options: list[str]) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "arenakit.bench", "--child", stage, str(data_dir), *options],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark stage {stage} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def format_figure(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.1e}" if 0 < abs(value) < 0.01 else f"{value:,.2f}"
    return f"{value:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows", type=int, default=REAL_TRAIN_ROWS, help="synthetic train rows (default: the real train size)"
    )
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=list(DEFAULT_STAGES))
    parser.add_argument("--embedder-data", type=Path, help="competition folder for the embedder stage")
    parser.add_argument(
        "--embedder-rows", type=int, default=1000, help="rows the embedder and lora stages use (default: 1000)"
    )
    parser.add_argument(
        "--lora-max-length", type=int, default=512, help="tokens per row in the lora stage (default: 512)"
    )
    parser.add_argument("--decoder-rows", type=int, default=128, help="rows the decoder stage times (default: 128)")
    parser.add_argument(
        "--decoder-max-lengths", type=int, nargs="+", default=[512, 2048], help="decoder stage max_length values"
    )
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        stage, data_dir = args.child
        extra = {"max_rows": args.embedder_rows} if stage in MODEL_STAGES else {}
        if stage in ("lora", "siamese"):
            extra.update(max_length=args.lora_max_length, train_rows=min(64, args.embedder_rows))
        if stage == "decoder":
            extra = {"max_rows": args.decoder_rows, "max_lengths": tuple(args.decoder_max_lengths)}
        module, function = STAGES[stage]
        result = getattr(importlib.import_module(module), function)(Path(data_dir), **extra)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    child_options = [
        *("--embedder-rows", str(args.embedder_rows), "--lora-max-length", str(args.lora_max_length)),
        *("--decoder-rows", str(args.decoder_rows), "--decoder-max-lengths", *map(str, args.decoder_max_lengths)),
    ]
    # Figures that are sentences (an estimate's assumptions) get lines of their own.
    notes = {"t4_assumptions"}

    with tempfile.TemporaryDirectory(prefix="arenakit-bench-") as tmp:
        started = time.perf_counter()
        data_dir = write_sample(Path(tmp), n_train=args.rows, n_test=3, seed=0)
        size_mb = sum(f.stat().st_size for f in data_dir.iterdir()) / 1e6
        print(
            f"synthetic sample: {args.rows} train rows, {size_mb:.0f} MB, written in {time.perf_counter() - started:.1f} s"
        )
        for stage in args.stages:
            stage_data_dir = args.embedder_data if stage in MODEL_STAGES and args.embedder_data else data_dir
            result = run_stage_in_child(stage, stage_data_dir, child_options)
            figures = "  ".join(f"{key}={format_figure(value)}" for key, value in result.items() if key not in notes)
            print(f"{stage}: {figures}")
            for key in notes & set(result):
                print(f"  {key}: {result[key]}")
            print(json.dumps({"stage": stage, **result}), flush=True)
    return 0
