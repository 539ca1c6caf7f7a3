"""The training loop: AdamW on the adapters and head, cosine schedule with warmup, early stopping, resumable.

    history = train_classifier(model, train_rows, y_train, valid_rows, y_valid, TrainConfig(epochs=2),
                               device="cuda:0", checkpoint_dir="ckpt/fold_0")

A plain loop rather than the HF Trainer: it is short enough to read, and it does the three
things this kit needs that the Trainer makes awkward: batches that keep a row and its A/B swap
together, validation by the competition's metric (log loss on the three classes), and a resume
that skips exactly the batches an interrupted run had done.

On CUDA the forward pass runs under fp16 autocast with a gradient scaler (the T4 has no bf16).
Every `checkpoint_every` optimizer steps and at each epoch end, the trainable weights, optimizer,
schedule, scaler, RNG and loop position go to checkpoint_dir/checkpoint.pt; a rerun with the same
data and settings continues from there (a rerun with other data or settings starts afresh).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from arenakit.metrics import evaluate
from arenakit.models.lora.backbone import place_on
from arenakit.models.lora.batching import TokenRows, length_grouped_batches
from arenakit.models.lora.optim import make_optimizer
from arenakit.models.lora.predict import predict_proba

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class TrainConfig:
    epochs: int = 1
    batch_size: int = 8
    grad_accum: int = 1  # batches per optimizer step
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    optimizer: str = "adamw"  # or "adamw_8bit", "paged_adamw_8bit" (arenakit.models.lora.optim)
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    max_grad_norm: float = 1.0
    patience: int = 1  # validations without a better log loss before stopping
    eval_every: int = 0  # optimizer steps between validations; 0: at each epoch end only
    checkpoint_every: int = 200  # optimizer steps between checkpoints (also at each epoch end)
    swap_pairs: bool = False  # rows 2k, 2k+1 are a row and its swap: keep them in one batch
    inference_batch_size: int = 32
    seed: int = 42

    @classmethod
    def from_params(cls, params: dict, **values) -> TrainConfig:
        """The loop's settings from a model's parameters of the same names; values set the others."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{**{key: value for key, value in params.items() if key in names}, **values})


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {
        name: param.detach().to("cpu", copy=True) for name, param in model.named_parameters() if param.requires_grad
    }


def load_trainable_state(model, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device))


def run_fingerprint(train_rows, y_train, valid_rows, y_valid, config: TrainConfig, model) -> str:
    """Changes when the data, the settings or the starting weights change: a checkpoint of another run is not resumed."""
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    for rows in (train_rows, valid_rows):
        rows.update_digest(digest)
    digest.update(np.asarray(y_train, np.int64).tobytes() + np.asarray(y_valid, np.int64).tobytes())
    for name, value in sorted(trainable_state(model).items()):
        digest.update(name.encode() + value.float().numpy().tobytes()[:4096])
    return digest.hexdigest()[:16]


class _Loop:
    """The loop's position and record, saved in checkpoints."""

    def __init__(self):
        self.epoch, self.batch, self.step = 0, 0, 0
        self.best_loss, self.best_state, self.bad_evals = math.inf, None, 0
        self.history: list[dict] = []
        self.stopped = False
        self.finished = False

    def to_dict(self) -> dict:
        return dict(vars(self))

    def update(self, saved: dict) -> None:
        vars(self).update(saved)


def train_classifier(
    model,
    train_rows: TokenRows,
    y_train,
    valid_rows: TokenRows,
    y_valid,
    config: TrainConfig,
    device: str = "cpu",
    checkpoint_dir: Path | str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train in place and leave the best validated weights in the model; return per-validation metrics."""
    from transformers import get_cosine_schedule_with_warmup

    place_on(model, device)
    use_fp16 = device.startswith("cuda")
    params = [param for param in model.parameters() if param.requires_grad]
    optimizer = make_optimizer(params, config.optimizer, config.learning_rate, config.weight_decay)
    lengths = train_rows.lengths
    n_batches = len(length_grouped_batches(lengths, config.batch_size, seed=config.seed, pairs=config.swap_pairs))
    steps_per_epoch = math.ceil(n_batches / config.grad_accum)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=use_fp16)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    labels = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    loop = _Loop()

    checkpoint = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir else None
    fingerprint = run_fingerprint(train_rows, y_train, valid_rows, y_valid, config, model)

    def save_checkpoint() -> None:
        if checkpoint is None:
            return
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        partial = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "fingerprint": fingerprint,
                "loop": loop.to_dict(),
                "weights": trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": torch.get_rng_state(),
            },
            partial,
        )
        partial.replace(checkpoint)  # an interruption mid-write leaves the previous checkpoint whole

    def validate(train_loss: float, started: float) -> None:
        if not len(valid_rows):
            loop.history.append(
                {
                    "epoch": loop.epoch + loop.batch / n_batches,
                    "step": loop.step,
                    "train_loss": train_loss,
                    "seconds": time.perf_counter() - started,
                }
            )
            return
        proba = predict_proba(model, valid_rows, config.inference_batch_size, [device], progress=False)
        report = evaluate(np.asarray(y_valid), proba)
        loop.history.append(
            {
                "epoch": loop.epoch + loop.batch / n_batches,
                "step": loop.step,
                "train_loss": train_loss,
                "valid_log_loss": report["log_loss"],
                "valid_accuracy": report["accuracy"],
                "valid_macro_f1": report["macro_f1"],
                "seconds": time.perf_counter() - started,
            }
        )
        if report["log_loss"] < loop.best_loss - 1e-6:
            loop.best_loss, loop.best_state, loop.bad_evals = report["log_loss"], trainable_state(model), 0
        else:
            loop.bad_evals += 1
            loop.stopped = loop.bad_evals >= config.patience
        model.train()

    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if saved["fingerprint"] == fingerprint:
            loop.update(saved["loop"])
            load_trainable_state(model, saved["weights"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            scaler.load_state_dict(saved["scaler"])
            torch.set_rng_state(saved["rng"])

    started = time.perf_counter()
    model.train()
    bar = tqdm(
        total=n_batches * config.epochs,
        initial=loop.epoch * n_batches + loop.batch,
        desc="train",
        disable=not progress or loop.finished,
    )
    while not (loop.finished or loop.stopped) and loop.epoch < config.epochs:
        batches = length_grouped_batches(
            lengths, config.batch_size, seed=config.seed + loop.epoch, pairs=config.swap_pairs
        )
        losses = []
        while loop.batch < n_batches and not loop.stopped:
            batch = batches[loop.batch]
            inputs = {k: v.to(device) for k, v in train_rows.batch(batch).items()}
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_fp16):
                logits = model(**inputs).logits
            loss = loss_fn(logits.float(), labels[batch].to(device))
            scaler.scale(loss / config.grad_accum).backward()
            losses.append(loss.item())
            loop.batch += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
            if loop.batch % config.grad_accum and loop.batch < n_batches:
                continue
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            loop.step += 1
            if config.eval_every and loop.step % config.eval_every == 0 and loop.batch < n_batches:
                validate(float(np.mean(losses)), started)
            if config.checkpoint_every and loop.step % config.checkpoint_every == 0:
                save_checkpoint()
        if not loop.stopped:
            validate(float(np.mean(losses)) if losses else math.nan, started)
            loop.epoch, loop.batch = loop.epoch + 1, 0
        save_checkpoint()
    bar.close()
    loop.finished = True
    if loop.best_state is not None:
        load_trainable_state(model, loop.best_state)
    save_checkpoint()
    model.eval()
    return loop.history
