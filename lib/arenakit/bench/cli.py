"""Benchmarks that print figures: python -m arenakit.bench [--rows N] [--stages data features embedder]

With no flags it finishes in a few minutes on 2 CPU cores: the data stages on DEFAULT_ROWS
synthetic rows, the model stages on DEFAULT_MODEL_ROWS rows at DEFAULT_LORA_MAX_LENGTH tokens. The README's
figures come from larger sizes, each with the flags that produced it, e.g.
    python -m arenakit.bench --embedder-data ../shared/data/arena-sample --embedder-rows 300 --embedder-max-length 256

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
              With --device cuda: a random Gemma-2-9B (the published config, no download) at fp16,
              8-bit and 4-bit, max_length 1,024 and 2,048, token-budget batches with out-of-memory
              halvings counted; rows/s, seconds per row, peak GPU memory and the time for 25,000
              rows on one T4 scaled by fp16 tensor rates (arenakit.bench.decoder_gpu). Expected to
              take a few minutes on an H100 (18.5 GB written to a temporary folder, loaded three
              times); not yet run on a GPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from arenakit.bench.gpu import PRECISIONS
from arenakit.data import write_sample

REAL_TRAIN_ROWS = 57_477
# The data stages' default: rows/s settle by then, and writing and parsing the real size
# (`--rows 57477`, 191 MB) takes minutes of a 2-core machine's time.
DEFAULT_ROWS = 10_000
# The model stages' default size: enough rows and tokens for the comparisons to hold (dynamic
# padding, Siamese against swap averaging, the embedder's precisions) in a few minutes on 2 cores.
# The README's figures use larger ones, named beside each.
DEFAULT_MODEL_ROWS = 32
DEFAULT_LORA_MAX_LENGTH = 128
DEFAULT_EMBEDDER_MAX_LENGTH = 128  # what the MiniLM model embeds on a CPU (minilm_lgbm.CPU_MAX_SEQ_LENGTH)
STOP_WAIT_S = 10  # how long a stopped stage gets to exit before it is killed


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
# The decoder stage on a GPU (--device cuda): the 9B judge's bench instead of the CPU comparisons.
DECODER_GPU_STAGE = ("arenakit.bench.decoder_gpu", "stage_decoder_gpu")
DEFAULT_STAGES = ("data", "features", "embedder", "lora", "siamese")
DEFAULT_DECODER_MAX_LENGTHS = {"cpu": [512, 2048], "gpu": [1024, 2048]}
# Stages that run on the model data (--embedder-data) and take the row cap.
MODEL_STAGES = ("embedder", "lora", "siamese", "decoder")


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage_in_child(stage: str, data_dir: Path, options: list[str]) -> dict:
    child = subprocess.Popen(
        [sys.executable, "-m", "arenakit.bench", "--child", stage, str(data_dir), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = child.communicate()
    finally:
        # Stopped (Ctrl-C, SIGTERM: see stop_on_sigterm) while the stage runs: stop the stage too,
        # or it runs on, orphaned, for as long as the stage takes.
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if child.returncode != 0:
        raise RuntimeError(f"benchmark stage {stage} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def decoder_stage(args) -> tuple[tuple[str, str], dict]:
    """The decoder stage's (module, function) and keyword arguments: the CPU comparisons, or the GPU bench on cuda."""
    on_gpu = args.device.startswith("cuda")
    max_lengths = tuple(args.decoder_max_lengths or DEFAULT_DECODER_MAX_LENGTHS["gpu" if on_gpu else "cpu"])
    extra = {"max_rows": args.decoder_rows, "max_lengths": max_lengths}
    if not on_gpu:
        return STAGES["decoder"], extra
    extra.update(
        device=args.device,
        precisions=tuple(args.decoder_precisions),
        memory_gib=args.decoder_memory_gib,
        gpu_tflops=args.gpu_tflops,
    )
    if args.decoder_batch_tokens:
        extra["max_batch_tokens"] = args.decoder_batch_tokens
    return DECODER_GPU_STAGE, extra


def stop_on_sigterm() -> None:
    """SIGTERM ends the bench as Ctrl-C does: by an exception, so the stage process and the sample are cleaned up."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def format_figure(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "n/a"  # a figure this device cannot give (GPU memory on a CPU)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1e}" if 0 < abs(value) < 0.01 else f"{value:,.2f}"
    return f"{value:,}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_ROWS,
        help=f"synthetic train rows (default: {DEFAULT_ROWS:,}; the real train.csv has {REAL_TRAIN_ROWS:,})",
    )
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=list(DEFAULT_STAGES))
    parser.add_argument("--embedder-data", type=Path, help="competition folder for the embedder stage")
    parser.add_argument(
        "--embedder-rows",
        type=int,
        default=DEFAULT_MODEL_ROWS,
        help=f"rows the embedder, lora and siamese stages use (default: {DEFAULT_MODEL_ROWS})",
    )
    parser.add_argument(
        "--embedder-max-length",
        type=int,
        default=DEFAULT_EMBEDDER_MAX_LENGTH,
        help=f"tokens per text in the embedder stage (default: {DEFAULT_EMBEDDER_MAX_LENGTH}; MiniLM's own is 256)",
    )
    parser.add_argument(
        "--lora-max-length",
        type=int,
        default=DEFAULT_LORA_MAX_LENGTH,
        help=f"tokens per row in the lora and siamese stages (default: {DEFAULT_LORA_MAX_LENGTH})",
    )
    parser.add_argument("--decoder-rows", type=int, default=128, help="rows the decoder stage times (default: 128)")
    parser.add_argument(
        "--decoder-max-lengths",
        type=int,
        nargs="+",
        help="decoder stage max_length values (default: 512 2048 on a CPU, 1024 2048 with --device cuda)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="decoder stage device: cpu (a tiny Gemma-2, batching compared), or cuda / cuda:N (a random Gemma-2-9B)",
    )
    parser.add_argument(
        "--decoder-precisions",
        nargs="+",
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help="with --device cuda: the precisions",
    )
    parser.add_argument(
        "--decoder-batch-tokens",
        type=int,
        help="with --device cuda: padded tokens per batch (default: the decoder_2xt4 profile's 8192)",
    )
    parser.add_argument(
        "--decoder-memory-gib",
        type=float,
        help="with --device cuda: cap the process's GPU memory (15 = a T4's) to see what fits and what halves",
    )
    parser.add_argument(
        "--gpu-tflops",
        type=float,
        help="with --device cuda: this GPU's dense fp16 tensor TFLOPS, where arenakit.bench.gpu's table lacks it",
    )
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "DATA_DIR"), help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.child:
        stage, data_dir = args.child
        extra = {"max_rows": args.embedder_rows} if stage in MODEL_STAGES else {}
        if stage == "embedder":
            extra["max_seq_length"] = args.embedder_max_length
        if stage in ("lora", "siamese"):
            # Training is the slow part on a CPU: half the rows, at most 64 (the README's figures).
            extra.update(max_length=args.lora_max_length, train_rows=min(64, max(1, args.embedder_rows // 2)))
        module, function = STAGES[stage]
        if stage == "decoder":
            (module, function), extra = decoder_stage(args)
        result = getattr(importlib.import_module(module), function)(Path(data_dir), **extra)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    child_options = [
        *("--embedder-rows", str(args.embedder_rows), "--lora-max-length", str(args.lora_max_length)),
        *("--embedder-max-length", str(args.embedder_max_length)),
        *("--decoder-rows", str(args.decoder_rows), "--device", args.device),
        *("--decoder-precisions", *args.decoder_precisions),
        *(("--decoder-batch-tokens", str(args.decoder_batch_tokens)) if args.decoder_batch_tokens else ()),
        *(("--decoder-max-lengths", *map(str, args.decoder_max_lengths)) if args.decoder_max_lengths else ()),
        *(("--decoder-memory-gib", str(args.decoder_memory_gib)) if args.decoder_memory_gib else ()),
        *(("--gpu-tflops", str(args.gpu_tflops)) if args.gpu_tflops else ()),
    ]
    # Figures that are sentences (an estimate's assumptions) get lines of their own.
    notes = {"t4_assumptions", "gpu_assumptions"}

    stop_on_sigterm()
    try:
        run_stages(args, child_options, notes)
    except KeyboardInterrupt:
        print("benchmark stopped; its running stage was stopped with it", file=sys.stderr)
        return 130
    return 0


def run_stages(args, child_options: list[str], notes: set[str]) -> None:
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
