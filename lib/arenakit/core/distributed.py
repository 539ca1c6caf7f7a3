"""The processes of a run: one plain process (a notebook, pytest), or one of N started by torchrun / accelerate launch.

    if is_main_process(): write(...)                     # artifacts, checkpoints and reports: process 0 only
    with main_process_first(): folds = shared_folds(...)  # process 0 writes the file, the others then read it
    proba = predict_in_shards(model.predict_proba, frame)  # each process predicts its share; all get every row

Accelerate is the engine (its PartialState starts the process group from the launcher's
environment: NCCL between GPUs, gloo between CPU processes); this module only says which
process this is and shares results between processes. In a plain process every function is the
trivial one and Accelerate is not even imported, so notebooks and tests pay nothing for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

import numpy as np

from arenakit.core.schema import N_CLASSES


def launched_processes() -> int:
    """How many processes the launcher started (torchrun and accelerate launch set WORLD_SIZE); 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    return launched_processes() > 1


def process_state():
    """Accelerate's view of this process, starting the process group on first use.

    On a machine without CUDA, Accelerate runs several processes only when told they are CPU
    processes (cpu=True); it then joins them with gloo.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def process_index() -> int:
    return process_state().process_index if is_distributed() else 0


def is_main_process() -> bool:
    """True in the one process that writes files: process 0 of a launched run, or a plain process."""
    return process_index() == 0


def wait_for_everyone() -> None:
    if is_distributed():
        process_state().wait_for_everyone()


def main_process_first():
    """A context in which process 0 runs first and the others after it (read what it wrote)."""
    return process_state().main_process_first() if is_distributed() else nullcontext()


@contextmanager
def only_main_process_writes():
    """Process 0 runs the block; the others wait at its end until it is done (then its files exist)."""
    try:
        yield is_main_process()
    finally:
        wait_for_everyone()


def row_shards(lengths, n_shards: int) -> list[np.ndarray]:
    """Row indices for each process: rows dealt out longest first, so every share has long and short rows alike."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [np.sort(order[shard::n_shards]) for shard in range(n_shards)]


def gather_per_process(value) -> list:
    """Every process's value, in process order, on every process."""
    if not is_distributed():
        return [value]
    from accelerate.utils import gather_object

    return gather_object([value])


def gather_rows(local: np.ndarray, shards: list[np.ndarray], n_rows: int) -> np.ndarray:
    """Every process's rows (local: this process's, in its shard's order), gathered on every process in row order."""
    if len(shards) == 1:
        return np.asarray(local)
    parts = gather_per_process(np.asarray(local))
    out = np.empty((n_rows, *parts[0].shape[1:]), dtype=parts[0].dtype)
    for shard, part in zip(shards, parts):
        out[shard] = part
    return out


def predict_in_shards(predict: Callable, frame, lengths=None) -> np.ndarray:
    """predict(rows) over a frame, each process predicting its share, the whole result on every process.

    lengths: a per-row size to balance the shares by (default: the rows' text length).
    """
    if not is_distributed():
        return predict(frame)
    if lengths is None:
        lengths = sum(frame[column].str.len().to_numpy() for column in ("prompt", "response_a", "response_b"))
    shards = row_shards(lengths, launched_processes())
    mine = shards[process_index()]
    local = predict(frame.iloc[mine].reset_index(drop=True)) if len(mine) else np.zeros((0, N_CLASSES))
    return gather_rows(local, shards, len(frame))


def mixed_precision_for(device: str, requested: str = "auto") -> str:
    """ "bf16", "fp16" or "no" for training on device.

    "auto": bf16 or fp16 set by the launcher (accelerate launch --mixed_precision, its config
    file) wins; else bf16 on GPUs with native bf16 (compute capability 8+), fp16 on older ones
    (the T4 emulates bf16, slowly), none on CPU.
    """
    if requested != "auto":
        if requested not in ("bf16", "fp16", "no"):
            raise ValueError(f"mixed_precision={requested!r}: use 'auto', 'bf16', 'fp16' or 'no'")
        return requested
    launched = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()
    if launched in ("bf16", "fp16"):
        return launched
    if not device.startswith("cuda"):
        return "no"
    import torch

    return "bf16" if torch.cuda.get_device_capability(torch.device(device))[0] >= 8 else "fp16"


def make_accelerator(device: str, grad_accum: int, batch_size: int, mixed_precision: str = "auto"):
    """An Accelerator for training on device (this process's), refusing setups the LoRA loop does not support.

    The loop places the model and the batches itself (device_placement=False), so a plain process
    can train on any device it is given. FSDP and DeepSpeed ZeRO-3 split every weight between the
    processes; the loop reads the adapters and the head whole (checkpoints, early stopping's best
    weights, saving), so it refuses them: a LoRA's frozen backbone is replicated instead (bf16 9B:
    18 GB a GPU) or quantized (quantize="4bit").
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedType

    if is_distributed() and device != str(process_device()):
        raise ValueError(
            f"device={device!r} in process {process_index()} of {launched_processes()}: in a launched run each "
            f"process trains on its own device ({process_device()}); leave device='auto'"
        )
    accelerator = Accelerator(
        cpu=not device.startswith("cuda"),
        mixed_precision=mixed_precision_for(device, mixed_precision),
        gradient_accumulation_steps=grad_accum,
        device_placement=False,
    )
    sharded = accelerator.distributed_type == DistributedType.FSDP or (
        accelerator.distributed_type == DistributedType.DEEPSPEED and accelerator.state.deepspeed_plugin.zero_stage == 3
    )
    if sharded:
        raise ValueError(
            "FSDP and DeepSpeed ZeRO-3 split each weight between processes, which the LoRA loop does not support; "
            "use DeepSpeed ZeRO-2 (lib/arenakit/train/configs/deepspeed-zero2-4xa100.yaml) or plain DDP (torchrun)"
        )
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        plugin = accelerator.state.deepspeed_plugin
        if plugin.is_auto("train_micro_batch_size_per_gpu"):  # the loop makes its own batches: no DataLoader to read
            plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = batch_size
    return accelerator


def accumulation_steps(accelerator) -> int:
    """Batches a process runs per optimizer step: Accelerate's value, or the DeepSpeed config's where it sets one.

    A launcher's config may set it (accelerate launch --gradient_accumulation_steps, a DeepSpeed
    config), overriding the loop's grad_accum setting; the loop plans its steps with this value.
    """
    from accelerate.utils import DistributedType

    steps = accelerator.gradient_accumulation_steps
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        configured = accelerator.state.deepspeed_plugin.deepspeed_config.get("gradient_accumulation_steps", "auto")
        steps = steps if configured == "auto" else int(configured)
    return steps


def process_device() -> str:
    """A launched process's own device: cuda:<local rank>, or cpu."""
    device = process_state().device
    return "cpu" if device.type == "cpu" else str(device)
