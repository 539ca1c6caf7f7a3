"""Inference: length-sorted batches, dynamic padding, fp16 on CUDA, one worker per GPU.

    proba = predict_proba(model, rows, batch_size=32, devices=["cuda:0", "cuda:1"])   # rows: TokenRows

With several devices, the length-sorted batches are dealt out in turn (0, 1, 0, 1, ...), so each
device gets a similar share of long and short rows; each device runs its own copy of the model in
a thread (CUDA kernels release the GIL, so the threads overlap).
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

from arenakit.distributed import is_distributed, process_device
from arenakit.models.lora.backbone import is_quantized, place_on
from arenakit.models.lora.batching import TokenRows, length_grouped_batches
from arenakit.schema import N_CLASSES


def available_devices(device: str = "auto") -> list[str]:
    """ "auto": every CUDA device, else the CPU; any other value is used as given ("cpu", "cuda:1").

    In a process launched by torchrun / accelerate launch, "auto" is that process's own device:
    each process trains and predicts on its GPU, and the processes share the rows.
    """
    if device != "auto":
        return [device]
    if is_distributed():
        return [process_device()]
    if torch.cuda.is_available():
        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    return ["cpu"]


def _run_batches(
    model, rows: TokenRows, batches: list[np.ndarray], device: str, pad_to: int | None, progress
) -> dict[int, np.ndarray]:
    out = {}
    use_fp16 = device.startswith("cuda")
    model.eval()
    with torch.inference_mode():
        for batch in batches:
            inputs = {k: v.to(device) for k, v in rows.batch(batch, pad_to).items()}
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_fp16):
                logits = model(**inputs).logits
            probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
            out.update(zip(batch.tolist(), probs))
            if progress is not None:
                progress.update(len(batch))
    return out


def predict_proba(
    model,
    rows: TokenRows,
    batch_size: int = 32,
    devices: list[str] | None = None,
    pad_to: int | None = None,
    progress: bool = True,
    desc: str = "predict",
) -> np.ndarray:
    """(n, 3) class probabilities in row order. pad_to pads every batch to that width (for comparison only)."""
    if not len(rows):
        return np.zeros((0, N_CLASSES))
    devices = devices or available_devices()
    if is_quantized(model):
        devices = devices[:1]  # a quantized model cannot be copied to another device
    batches = length_grouped_batches(rows.lengths, batch_size)
    bar = tqdm(total=len(rows), desc=desc, disable=not progress)
    try:
        if len(devices) == 1:
            place_on(model, devices[0])
            results = _run_batches(model, rows, batches, devices[0], pad_to, bar)
        else:
            replicas = [place_on(model, devices[0])] + [copy.deepcopy(model).to(d) for d in devices[1:]]
            with ThreadPoolExecutor(len(devices)) as pool:
                parts = pool.map(
                    lambda k: _run_batches(replicas[k], rows, batches[k :: len(devices)], devices[k], pad_to, bar),
                    range(len(devices)),
                )
                results = {index: row for part in parts for index, row in part.items()}
    finally:
        bar.close()
    return np.stack([results[i] for i in range(len(rows))]).astype(np.float64)
