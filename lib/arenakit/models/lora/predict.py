"""Inference: rows split across devices, length-sorted batches, dynamic padding, half precision on CUDA.

    proba = predict_proba(model, rows, batch_size=32, devices=["cuda:0", "cuda:1"])   # rows: TokenRows
    proba = predict_proba(model, rows, max_batch_tokens=8192, devices=devices, replicas=[model_on_cuda1])

With several devices, the rows are dealt out down the length-sorted order (split_rows), so each
device gets a like share of long and short rows, or split as the caller says (`parts`: the
original order on one device and the A/B-swapped order on the other, say). Each device runs its
own copy of the model in a thread (CUDA kernels release the GIL, so the threads overlap): the
`replicas` given, else deep copies of a model that is not quantized (a quantized one must be
loaded on each device by the caller: it cannot be copied or moved).

Within a device, batches hold batch_size rows, or as many rows as fit max_batch_tokens padded
tokens; the widest batch runs first. On a CUDA out-of-memory error the batch is halved and
retried, and every later batch is cut to the size that fitted; a note says so. No row is lost
or reordered: the result is in row order, whatever the batches were.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from arenakit.core.distributed import is_distributed, process_device
from arenakit.core.notices import notice
from arenakit.core.schema import N_CLASSES
from arenakit.core.threads import follow_thread_share
from arenakit.models.lora.backbone import is_quantized, place_on
from arenakit.models.lora.batching import TokenRows, length_grouped_batches, split_rows, token_budget_batches


@dataclass
class DeviceRun:
    """What one device did in one predict_proba call."""

    device: str
    rows: int = 0
    batches: int = 0
    padded_tokens: int = 0
    seconds: float = 0.0
    halvings: int = 0  # batches halved after an out-of-memory error


def available_devices(device: str = "auto") -> list[str]:
    """ "auto": every CUDA device, else the CPU; else the devices named, separated by commas ("cuda:1", "cpu,cpu").

    In a process launched by torchrun / accelerate launch, "auto" is that process's own device:
    each process trains and predicts on its GPU, and the processes share the rows.
    """
    if device != "auto":
        return [name.strip() for name in device.split(",") if name.strip()]
    if is_distributed():
        return [process_device()]
    if torch.cuda.is_available():
        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    return ["cpu"]


def inference_batches(lengths, batch_size: int, max_batch_tokens: int | None = None) -> list[np.ndarray]:
    """Index batches for inference, widest first: capped by padded tokens when max_batch_tokens is set, else by rows."""
    if max_batch_tokens:
        return token_budget_batches(lengths, max_batch_tokens)
    return length_grouped_batches(lengths, batch_size)


def _autocast_dtype(model) -> torch.dtype:
    # bf16 weights compute in bf16; everything else (fp32, fp16, quantized with fp16 compute) in fp16.
    return torch.bfloat16 if getattr(model, "dtype", None) == torch.bfloat16 else torch.float16


def _forward(model, rows: TokenRows, batch: np.ndarray, device: str, pad_to: int | None) -> np.ndarray:
    if device == "cpu":
        follow_thread_share()  # the cores of a notebook that finished beside this one
    inputs = {k: v.to(device) for k, v in rows.batch(batch, pad_to).items()}
    with torch.autocast("cuda", dtype=_autocast_dtype(model), enabled=device.startswith("cuda")):
        logits = model(**inputs).logits
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()


def _halves(batch: np.ndarray) -> list[np.ndarray]:
    middle = (len(batch) + 1) // 2
    return [batch[:middle], batch[middle:]]


def _run_device(model, rows: TokenRows, batches, device: str, pad_to, bar, run: DeviceRun) -> dict[int, np.ndarray]:
    """Predict these batches on one device; halve a batch that runs out of memory, and every later one as wide."""
    out = {}
    lengths = rows.lengths
    queue = deque(batches)
    fits = math.inf  # padded tokens of the biggest batch known to fit after an out-of-memory error
    started = time.perf_counter()
    model.eval()
    with torch.inference_mode():
        while queue:
            batch = queue.popleft()
            tokens = len(batch) * (pad_to or int(lengths[batch].max()))
            if len(batch) > 1 and tokens > fits:
                queue.extendleft(reversed(_halves(batch)))
                continue
            try:
                probs = _forward(model, rows, batch, device, pad_to)
            except torch.cuda.OutOfMemoryError:
                if len(batch) == 1:
                    raise torch.cuda.OutOfMemoryError(
                        f"{device}: one row of {tokens} tokens does not fit in memory; lower max_length, "
                        "or load the backbone quantized (quantize='8bit' or '4bit')"
                    ) from None
                torch.cuda.empty_cache()
                fits = len(_halves(batch)[0]) * (tokens // len(batch))
                run.halvings += 1
                queue.extendleft(reversed(_halves(batch)))
                continue
            out.update(zip(batch.tolist(), probs))
            run.rows += len(batch)
            run.batches += 1
            run.padded_tokens += tokens
            if bar is not None:
                bar.update(len(batch))
    run.seconds = time.perf_counter() - started
    return out


def _replicas(model, devices: list[str], given) -> list:
    """The model for each device: the given one on the first, the given replicas (or deep copies) on the others."""
    if given is not None:
        if len(given) != len(devices) - 1:
            raise ValueError(f"{len(devices)} devices need {len(devices) - 1} replicas; got {len(given)}")
        return [place_on(model, devices[0]), *given]
    if len(devices) > 1 and is_quantized(model):
        raise ValueError(
            "a quantized model cannot be copied to another device: pass replicas loaded on each device "
            "(the LoRA estimators do this)"
        )
    return [place_on(model, devices[0])] + [copy.deepcopy(model).to(device) for device in devices[1:]]


def predict_proba(
    model,
    rows: TokenRows,
    batch_size: int = 32,
    devices: list[str] | None = None,
    pad_to: int | None = None,
    progress: bool = True,
    desc: str = "predict",
    *,
    max_batch_tokens: int | None = None,
    replicas: list | None = None,
    parts: list[np.ndarray] | None = None,
    report: list[DeviceRun] | None = None,
) -> np.ndarray:
    """(n, 3) class probabilities in row order.

    pad_to pads every batch to that width (for comparison only). max_batch_tokens caps batches
    by padded tokens instead of batch_size rows. replicas: the model on devices[1:]. parts: the
    row indices each device predicts (default split_rows). report: a list that gets one DeviceRun
    per device.
    """
    if not len(rows):
        return np.zeros((0, N_CLASSES))
    devices = devices or available_devices()
    models = _replicas(model, devices, replicas)
    lengths = np.full(len(rows), pad_to) if pad_to else rows.lengths
    parts = parts if parts is not None else split_rows(lengths, len(devices))
    if len(parts) != len(devices) or sorted(np.concatenate(parts).tolist()) != list(range(len(rows))):
        raise ValueError(f"parts must give each of the {len(devices)} devices its rows, every row exactly once")
    runs = [DeviceRun(device) for device in devices]

    def run_part(k: int) -> dict[int, np.ndarray]:
        batches = [parts[k][batch] for batch in inference_batches(lengths[parts[k]], batch_size, max_batch_tokens)]
        return _run_device(models[k], rows, batches, devices[k], pad_to, bar, runs[k])

    bar = tqdm(total=len(rows), desc=desc, disable=not progress)
    try:
        if len(devices) == 1:
            results = run_part(0)
        else:
            with ThreadPoolExecutor(len(devices)) as pool:
                results = {
                    index: row for part in pool.map(run_part, range(len(devices))) for index, row in part.items()
                }
    finally:
        bar.close()
    for run in runs:
        if run.halvings:
            notice(
                f"{run.device} ran out of memory: {run.halvings} batch(es) halved and retried, no row lost; "
                f"lower max_batch_tokens (or inference_batch_size) to skip the retries"
            )
    if report is not None:
        report.extend(runs)
    return np.stack([results[i] for i in range(len(rows))]).astype(np.float64)
