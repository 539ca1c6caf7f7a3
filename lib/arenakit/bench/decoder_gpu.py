"""Benchmark stage "decoder" on a GPU: a random Gemma-2-9B judge at fp16, 8-bit and 4-bit, timed the way the kit runs it.

    python -m arenakit.bench --rows 100 --stages decoder --device cuda --embedder-data ../shared/data/arena-sample

No download: the model is Gemma-2-9B's published config (google/gemma-2-9b-it's config.json: 42 blocks
of width 3,584, 16 query and 8 key/value heads of 256, feed-forward 14,336, 256k vocabulary,
soft-capped attention) with random weights, made on the device in fp16 (on the CPU only where the
GPU is too small for it, a T4) and saved once to a temporary folder beside a 32k byte-level BPE trained on the data
(about Gemma's characters per token). Each precision then loads from that folder through the
judge's own path (CrossEncoderClassifier._load_backbone: load_classifier with the kit's loading
options, bitsandbytes 8-bit or NF4 with fp16 compute, eager attention), gets unmerged LoRA adapters
as a trained judge has (r=16, on every block), and predicts the rows at each max_length with token-budget batches (predict_proba:
widest batch first, a batch that runs out of memory halved and retried, the halvings counted).

Per setting (precision x max_length) it reports rows/s, seconds per row, padded tokens, batches,
halvings and the peak of torch.cuda.max_memory_allocated, and the time one T4 would take for
25,000 rows: the measured seconds per row times the found GPU's dense fp16 tensor rate over the
T4's 65 TFLOPS (arenakit.bench.gpu). That scaling assumes both chips reach the same share of
their peak; the T4 has a tenth of an H100's memory bandwidth and bitsandbytes' kernels are not
tuned for it alike, so read it as a first-order figure and compare it with the public anchor
printed beside it (4-bit, one T4 reads 12,500 rows at 2,048 tokens in 4 h).

`--decoder-memory-gib 15` caps what the process may allocate at a T4's 15 GiB on a bigger GPU:
then a setting that does not fit says so (fits=False: fp16's 18.5 GB of weights) and a token budget
too big for a T4 shows as halvings. Without a GPU the same code runs on the CPU with a tiny config
(the test), where memory figures are None and fp16 means fp32 (arenakit.bench.gpu.compute_dtype).

The cascade's budget reads `seconds_per_row` (measured here, one pass, no swap) and
`t4_seconds_per_row` (the same on one T4) at `chosen_setting`, the decoder_2xt4 profile's
precision and max_length when they were measured; each setting has its own
`<precision>_<max_length>_seconds_per_row` and `..._t4_seconds_per_row`.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from arenakit.bench import gpu
from arenakit.bench.decoder import CORPUS_ROWS, VOCAB, corpus_texts
from arenakit.bench.t4_estimate import (
    BLOCKS,
    CONTEXT_BYTES,
    FFN,
    HEAD_DIM,
    HEADS,
    KV_HEADS,
    PUBLIC_HOURS,
    ROWS,
    T4_MEMORY,
    WIDTH,
)
from arenakit.bench.t4_estimate import VOCAB as GEMMA_VOCAB
from arenakit.bench.tiny_decoder import train_tokenizer
from arenakit.data import load_competition
from arenakit.models import CrossEncoderClassifier
from arenakit.models.lora import backbone as lora_backbone
from arenakit.models.lora import batching, profiles
from arenakit.models.lora import predict as lora_predict

PRECISIONS = gpu.PRECISIONS
MAX_LENGTHS = (1024, 2048)
WARMUP_ROWS = 2  # predicted before each timed run: kernel selection and first-call setup are not per-row costs
PROFILE = profiles.DECODER_PROFILES["decoder_2xt4"]
TRAINED = profiles.DECODER_PROFILES["decoder_train"]
# One T4's seconds per row in the public 4-bit run: 12,500 rows per T4 in 4 h at max_length 2,048.
PUBLIC_T4_SECONDS_PER_ROW = PUBLIC_HOURS * 3600 / (ROWS / 2)


def gemma_2_9b_config(tokenizer):
    """Gemma-2-9B's published config as a 3-label classifier, with this tokenizer's special tokens."""
    from transformers import AutoConfig

    return AutoConfig.for_model(
        "gemma2",
        vocab_size=GEMMA_VOCAB,
        hidden_size=WIDTH,
        intermediate_size=FFN,
        num_hidden_layers=BLOCKS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        head_dim=HEAD_DIM,
        hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=8192,
        rms_norm_eps=1e-6,
        query_pre_attn_scalar=256,
        sliding_window=4096,
        attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0,
        initializer_range=0.02,
        num_labels=3,
        **_special_ids(tokenizer),
    )


def _special_ids(tokenizer) -> dict:
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


def random_backbone(folder: Path, config, tokenizer, device: str, seed: int = 0) -> Path:
    """Save a random fp16 classifier of this config, made on device (seconds on a GPU), and the tokenizer.

    A GPU too small for the fp16 model (a T4: 18.5 GB against 15 GiB) gets it made on the CPU instead:
    a minute or two, and the T4 itself is then the GPU measured.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    config.update(_special_ids(tokenizer))
    for place in dict.fromkeys([device, "cpu"]):
        torch.manual_seed(seed)
        try:
            with torch.device(place):
                model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float16)
            break
        except torch.cuda.OutOfMemoryError:
            gpu.release(device)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    del model
    gpu.release(device)
    return folder


def _judge(folder: Path, precision: str, device: str, max_batch_tokens: int):
    """The cross-encoder on this backbone at this precision, loaded as the ensemble loads it, with LoRA adapters."""
    model = CrossEncoderClassifier.from_settings(
        {
            "backbone": str(folder),
            "device": device,
            "dtype": gpu.compute_dtype(device),
            "quantize": None if precision == "fp16" else precision,
            "max_batch_tokens": max_batch_tokens,
            "progress": False,
        }
    )
    # A trained judge's adapters (decoder_train's r=16), on every block: an upper bound, as in t4_estimate.
    rank, alpha = TRAINED["lora_r"], TRAINED["lora_alpha"]
    model.model_ = lora_backbone.add_lora(model._load_backbone(), rank, alpha, 0.0).eval()
    model.model_ = lora_backbone.place_on(model.model_, device)
    return model


def _timed_run(model, rows: batching.TokenRows, device: str, max_batch_tokens: int) -> dict:
    def predict(which, report=None):
        return lora_predict.predict_proba(
            model.model_, which, devices=[device], progress=False, max_batch_tokens=max_batch_tokens, report=report
        )

    predict(batching.TokenRows(rows.ids[:WARMUP_ROWS], rows.pad_id))
    gpu.reset_peak(device)
    report: list = []
    started = time.perf_counter()
    proba = predict(rows, report)
    seconds = time.perf_counter() - started
    run, peak = report[0], gpu.peak_gib(device)
    return {
        "rows_per_s": len(rows) / seconds,
        "seconds_per_row": seconds / len(rows),
        "padded_tokens": run.padded_tokens,
        "batches": run.batches,
        "halvings": run.halvings,
        "peak_gib": peak,
        # Would this setting's weights and widest batch fit a T4's 15 GiB, with the CUDA context (not counted)?
        "fits_t4": None if peak is None else peak * gpu.GIB + CONTEXT_BYTES < T4_MEMORY,
        "finite": bool(np.isfinite(proba).all()),
    }


def _precision_figures(folder, frame, precision, device, max_lengths, max_batch_tokens, scale) -> dict:
    """Load the judge at this precision and time it at each max_length; what runs out of memory says fits=False."""
    import torch

    gpu.release(device)
    started = time.perf_counter()
    try:
        model = _judge(folder, precision, device, max_batch_tokens)
    except torch.cuda.OutOfMemoryError:
        gpu.release(device)
        return {f"{precision}_fits": False}
    figures = {
        f"{precision}_fits": True,
        f"{precision}_load_s": time.perf_counter() - started,
        f"{precision}_quantized": lora_backbone.is_quantized(model.model_.get_base_model()),
        f"{precision}_parameter_gb": _parameter_bytes(model.model_) / 1e9,
        f"{precision}_allocated_gib": gpu.allocated_gib(device),
        # Loading peaks above what stays: transformers quantizes one fp16 tensor at a time, on the device.
        f"{precision}_load_peak_gib": gpu.peak_gib(device),
    }
    for max_length in max_lengths:
        rows = model.set_params(max_length=max_length).model_inputs(frame)
        figures[f"mean_tokens_{max_length}"] = float(rows.lengths.mean())
        try:
            run = _timed_run(model, rows, device, max_batch_tokens)
        except torch.cuda.OutOfMemoryError:  # one row alone did not fit (predict_proba halves batches before that)
            figures[f"{precision}_{max_length}_fits"] = False
            gpu.release(device)
            continue
        run["t4_seconds_per_row"] = None if scale is None else run["seconds_per_row"] * scale
        run["t4_hours_25000"] = None if scale is None else run["t4_seconds_per_row"] * ROWS / 3600
        figures.update({f"{precision}_{max_length}_{key}": value for key, value in run.items()})
    del model
    gpu.release(device)
    return figures


def chosen_setting(precisions, max_lengths) -> str:
    """The decoder_2xt4 profile's precision and max_length where measured, else the first precision and longest length."""
    precision = PROFILE["quantize"] if PROFILE["quantize"] in precisions else precisions[0]
    max_length = PROFILE["max_length"] if PROFILE["max_length"] in max_lengths else max(max_lengths)
    return f"{precision}_{max_length}"


def _assumptions(figures: dict) -> str:
    name, tflops, chosen = figures["gpu_name"], figures["gpu_fp16_tflops"], figures["chosen_setting"]
    if tflops is None:
        return (
            f"{name}: its dense fp16 rate is not in arenakit.bench.gpu's table, so no T4 time is extrapolated; "
            f"give it with --gpu-tflops"
        )
    at_chosen = (
        f"At {chosen}: {figures['t4_seconds_per_row']:.3f} s a row on one T4, "
        f"{figures['t4_seconds_per_row'] * ROWS / 3600:.1f} h for {ROWS:,} rows in one pass"
        if figures["t4_seconds_per_row"] is not None
        else f"{chosen} did not run (out of memory)"
    )
    return (
        f"T4 time = seconds per row measured on {name} x {tflops:.0f} / {gpu.T4_FP16_TFLOPS:.0f} TFLOPS "
        f"(dense fp16 tensor rates, {figures['gpu_tflops_source']}): it assumes the same share of peak on both "
        f"chips, which memory bandwidth (T4: 320 GB/s) and bitsandbytes' kernels may not give. {at_chosen}; "
        f"the anchor: the public 4-bit run took {PUBLIC_T4_SECONDS_PER_ROW:.3f} s a row on a T4 at 2,048 tokens. "
        f"Random weights, a {figures['vocab']:,}-token BPE trained on the data, one pass without swap TTA."
    )


def stage_decoder_gpu(
    data_dir: Path,
    device: str = "cuda",
    max_rows: int = 128,
    max_lengths=MAX_LENGTHS,
    precisions=PRECISIONS,
    max_batch_tokens: int = PROFILE["max_batch_tokens"],
    memory_gib: float | None = None,
    gpu_tflops: float | None = None,
    config=None,
    vocab_size: int = VOCAB,
    corpus_rows: int = CORPUS_ROWS,
) -> dict:
    """Figures of the judge at each precision and max_length on device; config None is Gemma-2-9B's."""
    import torch

    unknown = sorted(set(precisions) - set(PRECISIONS))
    if unknown:
        raise ValueError(f"precisions {unknown}: use any of {', '.join(PRECISIONS)}")
    device = gpu.resolve_device(device)
    lora_backbone.quiet_transformers()
    name = gpu.gpu_name(device)
    tflops, source = gpu.dense_fp16_tflops(name, gpu_tflops)
    scale = gpu.t4_scale(tflops)
    torch.manual_seed(0)
    train = load_competition(data_dir, warn=False).train.iloc[:corpus_rows].reset_index(drop=True)
    frame = train.iloc[:max_rows].reset_index(drop=True)
    tokenizer = train_tokenizer(corpus_texts(train), vocab_size)
    config = config if config is not None else gemma_2_9b_config(tokenizer)
    figures = {
        "device": device,
        "gpu_name": name,
        "gpu_fp16_tflops": tflops,
        "gpu_tflops_source": source,
        "t4_fp16_tflops": gpu.T4_FP16_TFLOPS,
        "compute_dtype": gpu.compute_dtype(device),
        "rows": len(frame),
        "vocab": len(tokenizer),
        "max_batch_tokens": max_batch_tokens,
        "memory_cap_gib": memory_gib,
        "load_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix="arenakit-decoder-gpu-") as tmp:
        folder = random_backbone(Path(tmp) / "backbone", config, tokenizer, device)
        figures["parameters_b"] = _parameters(folder) / 1e9
        gpu.cap_memory(device, memory_gib)  # after the fp16 model was made: 9B in fp16 exceeds a T4's cap
        try:
            for precision in precisions:
                figures.update(
                    _precision_figures(folder, frame, precision, device, max_lengths, max_batch_tokens, scale)
                )
        finally:
            gpu.cap_memory(device, None)
    chosen = chosen_setting(precisions, max_lengths)
    figures["chosen_setting"] = chosen
    figures["seconds_per_row"] = figures.get(f"{chosen}_seconds_per_row")
    figures["t4_seconds_per_row"] = figures.get(f"{chosen}_t4_seconds_per_row")
    figures["t4_hours_25000"] = figures.get(f"{chosen}_t4_hours_25000")
    figures["t4_public_seconds_per_row_4bit_2048"] = PUBLIC_T4_SECONDS_PER_ROW
    figures["load_after"] = os.getloadavg()[0]
    figures["gpu_assumptions"] = _assumptions(figures)
    return figures


def _parameter_bytes(model) -> int:
    """Bytes of the model's parameters as stored (int8 weights 1 byte each, NF4 packed two to a byte)."""
    return sum(param.numel() * param.element_size() for param in model.parameters())


def _parameters(folder: Path) -> int:
    """Parameters saved in the folder's safetensors files (read from their headers, no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as weights:
            for key in weights.keys():
                total += int(np.prod(weights.get_slice(key).get_shape()))
    return total
