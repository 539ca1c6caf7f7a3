"""The training loop's checkpoint: what it holds, when it may be resumed, and how it is written.

    fingerprint = run_fingerprint(train_rows, y_train, valid_rows, y_valid, config, model, launch)
    saved = read_checkpoint(path, fingerprint)        # None: no checkpoint, or another run's
    write_checkpoint(path, {...})                     # atomic: a crash mid-write leaves the last one whole

A checkpoint holds the trainable weights only (the adapters and the head, not the frozen
backbone), the optimizer, schedule and scaler states, the loop's position and record, and the RNG
state of every process. It is resumed only when its fingerprint matches: the same data, settings,
starting weights and launch (process count, accumulation, precision). Files are read with
torch.load(weights_only=True): tensors and plain values, never code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from arenakit.core.atomic import write_with
from arenakit.core.notices import notice

CHECKPOINT_FILE = "checkpoint.pt"
DAMAGED_SUFFIX = ".damaged"  # a checkpoint that did not read is kept under its name plus this


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {
        name: param.detach().to("cpu", copy=True) for name, param in model.named_parameters() if param.requires_grad
    }


def load_trainable_state(model, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device))


def run_fingerprint(train_rows, y_train, valid_rows, y_valid, config, model, launch: dict, targets=None) -> str:
    """Changes when the data, the settings, the starting weights or the launch change: another run's checkpoint is not resumed.

    launch: how the run is spread (processes, gradient accumulation, mixed precision): the
    optimizer steps of a checkpoint mean other batches under another launch.
    """
    settings = {**dataclasses.asdict(config), **launch}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for rows in (train_rows, valid_rows):
        rows.update_digest(digest)
    digest.update(np.asarray(y_train, np.int64).tobytes() + np.asarray(y_valid, np.int64).tobytes())
    if targets is not None:  # soft targets (arenakit.models.distill): another teacher is another run
        digest.update(targets.labels.tobytes() + targets.teacher.tobytes() + targets.weight.tobytes())
    for name, value in sorted(trainable_state(model).items()):
        digest.update(name.encode() + value.float().numpy().tobytes()[:4096])
    return digest.hexdigest()[:16]


def rng_state() -> dict[str, torch.Tensor]:
    """This process's random generators (dropout masks come from them)."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def read_checkpoint(path: Path | None, fingerprint: str, main_process: bool = True) -> dict | None:
    """The saved state when path holds a checkpoint of this very run, else None.

    A checkpoint that does not read (truncated by a full disk or a partial copy: write_checkpoint
    itself never leaves half a file) cannot be resumed from, and stopping would cost another night
    of the run it was meant to save: the fold starts afresh, with a bold notice naming the file,
    which the main process moves aside to checkpoint.pt.damaged (kept, never deleted, in case it
    is a good file this torch cannot read) before the first new checkpoint replaces it.
    """
    if path is None or not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict):
            raise ValueError(f"holds a {type(saved).__name__}, not the training loop's state")
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for a damaged file
        if main_process:
            damaged = path.with_name(path.name + DAMAGED_SUFFIX)
            path.replace(damaged)
            notice(
                f"{path} does not read ({type(error).__name__}: {str(error).strip().splitlines()[0][:200]}); it is "
                f"moved to {damaged} and this fold trains again from its first step. Delete {damaged} once you "
                "no longer need it"
            )
        return None
    return saved if saved.get("fingerprint") == fingerprint else None


def write_checkpoint(path: Path, state: dict) -> None:
    # Atomic: an interruption mid-write leaves the previous checkpoint whole.
    write_with(path, lambda temporary: torch.save(state, temporary))
