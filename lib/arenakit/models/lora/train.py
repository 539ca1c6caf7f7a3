"""The training loop on Hugging Face Accelerate: one process, or one per GPU under torchrun / accelerate launch.

    history = train_classifier(model, train_rows, y_train, valid_rows, y_valid, TrainingSettings(epochs=2),
                               RuntimeSettings(checkpoint_dir="ckpt/fold_0"), device="cuda:0")

The loop reads the estimator's own settings groups (arenakit.models.lora.settings), as they are:
`training` (what the model learns: epochs, batches, optimizer, swaps) and `runtime` (checkpoints,
progress, validation batch size, mixed precision).

A plain loop rather than the HF Trainer: it keeps a row and its A/B swap in one batch, validates
on the competition's metric (log loss on the three classes), and resumes by skipping exactly the
batches an interrupted run had done. Accelerate does the rest: DDP between processes, mixed
precision, gradient accumulation, DeepSpeed ZeRO-1/2 from a config file.

Spreading over processes. Every process builds the same batches in the same order (the seed
decides), and process r of N trains on batches r, r+N, r+2N, ... of each epoch. An optimizer step
takes grad_accum batches from each process: each batch's loss is divided by grad_accum and DDP
averages the processes, so N processes with grad_accum k take exactly the steps of one process with
grad_accum N x k (the same batches, the same gradients up to float summation order). In an
epoch's last step a process without a batch left runs a zero-weighted one (the shortest rows), so
every process makes the same backward passes, in which DDP exchanges gradients.

Mixed precision (mixed_precision="auto"): bf16 on GPUs that have it (compute capability 8 and
up: A100, H100, L4, RTX 30xx+), fp16 with a gradient scaler on older ones (T4, V100), none on CPU;
bf16 or fp16 set by the launcher (accelerate launch --mixed_precision, its config file) wins.

Soft targets (distillation, arenakit.models.distill): given `targets` (the teacher's
probabilities and a weight per training row, in the rows' order, swaps included), each batch's
loss is the mix of cross-entropy and T^2 x KL(teacher || student) there, averaged over the batch
like the plain cross-entropy, so processes and gradient accumulation treat it alike.

Validation: each process predicts its share of the validation rows; the shares are gathered in
row order on every process, so all compute the same log loss and make the same early-stopping
decision. Every `checkpoint_every` optimizer steps and at each epoch end, process 0 writes the
checkpoint (arenakit.models.lora.checkpoint); a rerun with the same data, settings and launch
continues from there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from arenakit.core.distributed import accumulation_steps, gather_per_process, gather_rows, make_accelerator, row_shards
from arenakit.core.phases import timed
from arenakit.core.threads import follow_thread_share
from arenakit.evaluation.metrics import evaluate
from arenakit.models.distill import SoftTargets, distillation_loss
from arenakit.models.lora.backbone import place_on
from arenakit.models.lora.batching import TokenRows, length_grouped_batches
from arenakit.models.lora.checkpoint import (
    CHECKPOINT_FILE,
    load_trainable_state,
    read_checkpoint,
    rng_state,
    run_fingerprint,
    set_rng_state,
    trainable_state,
    write_checkpoint,
)
from arenakit.models.lora.optim import make_optimizer
from arenakit.models.lora.predict import predict_proba
from arenakit.models.lora.settings import RuntimeSettings, TrainingSettings


def batches_per_process(n_batches: int, n_processes: int, grad_accum: int) -> int:
    """Batches each process runs in an epoch: its share, rounded up to whole optimizer steps."""
    return math.ceil(math.ceil(n_batches / n_processes) / grad_accum) * grad_accum


def process_batches(batches: list[np.ndarray], n_processes: int, process: int, grad_accum: int, pad: np.ndarray):
    """This process's (batch, weight) pairs for one epoch: its share, then zero-weighted pads to a whole step.

    Every process gets the same count, a multiple of grad_accum, so all make the same backward
    passes and optimizer steps: ceil(len(batches) / (n_processes * grad_accum)) steps.
    """
    mine = [(batch, 1.0) for batch in batches[process::n_processes]]
    return mine + [(pad, 0.0)] * (batches_per_process(len(batches), n_processes, grad_accum) - len(mine))


def shortest_unit(lengths: np.ndarray, pairs: bool) -> np.ndarray:
    """The shortest row (or row and swap): the cheapest batch, used as a zero-weighted pad."""
    unit = 2 if pairs else 1
    index = int(np.argmin(np.asarray(lengths).reshape(-1, unit).max(axis=1)))
    return np.arange(index * unit, (index + 1) * unit)


@dataclass(frozen=True)
class RowSubset:
    """Some rows of a TokenRows-like object, seen through the same interface (a process's share)."""

    rows: object
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray(self.rows.lengths)[self.index]

    def batch(self, rows, pad_to: int | None = None):
        return self.rows.batch(self.index[np.asarray(rows)], pad_to)


class _Loop:
    """The loop's position and record, saved in checkpoints. batch: batches this process did in the epoch."""

    def __init__(self):
        self.epoch, self.batch, self.step = 0, 0, 0
        self.best_loss, self.best_state, self.bad_evals = math.inf, None, 0
        self.history: list[dict] = []
        self.train_seconds = self.validate_seconds = 0.0
        self.stopped = False
        self.finished = False

    def to_dict(self) -> dict:
        return dict(vars(self))

    def update(self, saved: dict) -> None:
        vars(self).update(saved)


class Trainer:
    """One training run: set up in __init__ (resuming a matching checkpoint), then run()."""

    def __init__(
        self,
        model,
        train_rows: TokenRows,
        y_train,
        valid_rows: TokenRows,
        y_valid,
        training: TrainingSettings,
        runtime: RuntimeSettings | None = None,
        device: str = "cpu",
        targets: SoftTargets | None = None,
    ):
        runtime = runtime or RuntimeSettings()
        self.training, self.runtime, self.device = training, runtime, device
        config = training
        self.train_rows, self.valid_rows = train_rows, valid_rows
        self.y_valid = np.asarray(y_valid)
        self.labels = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
        # Soft targets (arenakit.models.distill): per row the teacher's probabilities and a weight.
        if targets is not None and len(targets) != len(self.labels):
            raise ValueError(f"{len(targets)} soft targets for {len(self.labels)} training rows: they must match")
        self.targets = targets
        if targets is not None:
            self.labels = torch.as_tensor(targets.labels, dtype=torch.long)
            self.teacher = torch.as_tensor(targets.teacher, dtype=torch.float32)
            self.row_weight = torch.as_tensor(targets.weight, dtype=torch.float32)
        self.accelerator = make_accelerator(device, config.grad_accum, config.batch_size, runtime.mixed_precision)
        self.n_processes, self.process = self.accelerator.num_processes, self.accelerator.process_index
        self.grad_accum = accumulation_steps(self.accelerator)  # a launcher's config may set it
        lengths = train_rows.lengths
        n_batches = len(length_grouped_batches(lengths, config.batch_size, seed=config.seed, pairs=config.swap_pairs))
        self.batches_per_epoch = batches_per_process(n_batches, self.n_processes, self.grad_accum)
        self.pad = shortest_unit(lengths, config.swap_pairs)
        launch = {
            "processes": self.n_processes,
            "grad_accum": self.grad_accum,
            "mixed_precision": self.accelerator.mixed_precision,
        }
        self.fingerprint = run_fingerprint(train_rows, y_train, valid_rows, y_valid, config, model, launch, targets)
        self.checkpoint = Path(runtime.checkpoint_dir) / CHECKPOINT_FILE if runtime.checkpoint_dir else None
        self.loop = _Loop()
        saved = read_checkpoint(self.checkpoint, self.fingerprint, self.accelerator.is_main_process)
        if (
            saved is None
            and self.checkpoint is not None
            and self.checkpoint.is_file()
            and self.accelerator.is_main_process
        ):
            print(f"{self.checkpoint}: made by another run (other data, settings or launch); training afresh")
        if saved is not None:
            # Into the model before prepare: DeepSpeed copies its master weights from the model there.
            load_trainable_state(model, saved["weights"])
        self._prepare(model)
        if saved is not None:
            self._restore(saved)
        self.progress = runtime.progress and self.accelerator.is_main_process

    def _prepare(self, model) -> None:
        from transformers import get_cosine_schedule_with_warmup

        config = self.training
        place_on(model, self.device)
        self.params = [param for param in model.parameters() if param.requires_grad]
        optimizer = make_optimizer(self.params, config.optimizer, config.learning_rate, config.weight_decay)
        total_steps = self.batches_per_epoch // self.grad_accum * config.epochs
        # Stepped here once per optimizer step (not through Accelerate, which steps it once per process).
        self.scheduler = get_cosine_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.unwrapped = self.accelerator.unwrap_model(self.model)
        self.loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    # -- checkpoints ----------------------------------------------------------------------------

    def _shards_optimizer(self) -> bool:
        from accelerate.utils import DistributedType

        return self.accelerator.distributed_type == DistributedType.DEEPSPEED

    def save_checkpoint(self) -> None:
        if self.checkpoint is None:
            return
        with timed("save"):
            rngs = gather_per_process(rng_state())
            if not self.accelerator.is_main_process:
                return
            scaler = self.accelerator.scaler
            state = {
                "fingerprint": self.fingerprint,
                "loop": self.loop.to_dict(),
                "weights": trainable_state(self.unwrapped),
                # ZeRO splits the optimizer state between processes and keeps DeepSpeed objects in it that
                # torch.load(weights_only=True) refuses: under DeepSpeed the moments restart on resume.
                "optimizer": None if self._shards_optimizer() else self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": rngs,
            }
            write_checkpoint(self.checkpoint, state)

    def _restore(self, saved: dict) -> None:
        self.loop.update(saved["loop"])
        if saved["optimizer"] is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        if saved["scaler"] is not None and self.accelerator.scaler is not None:
            self.accelerator.scaler.load_state_dict(saved["scaler"])
        set_rng_state(saved["rng"][self.process])

    # -- steps ----------------------------------------------------------------------------------

    def _train_batch(self, batch: np.ndarray, weight: float) -> float:
        accelerator = self.accelerator
        if self.device == "cpu":
            follow_thread_share()  # the cores of a notebook that finished beside this one
        inputs = {key: value.to(self.device) for key, value in self.train_rows.batch(batch).items()}
        with accelerator.accumulate(self.model):
            logits = self.model(**inputs).logits
            loss = self._loss(logits.float(), batch)
            accelerator.backward(loss * weight)
            if accelerator.sync_gradients and self.training.max_grad_norm:
                accelerator.clip_grad_norm_(self.params, self.training.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return loss.item()

    def _loss(self, logits: torch.Tensor, batch: np.ndarray) -> torch.Tensor:
        labels = self.labels[batch].to(self.device)
        if self.targets is None:
            return self.loss_fn(logits, labels)
        config = self.training
        return distillation_loss(
            logits,
            labels,
            self.teacher[batch].to(self.device),
            self.row_weight[batch].to(self.device),
            config.distill_weight,
            config.distill_temperature,
            config.label_smoothing,
        )

    def _predict_valid(self) -> np.ndarray:
        """Each process predicts its share of the validation rows; every process gets all, in row order."""
        shards = row_shards(self.valid_rows.lengths, self.n_processes)
        mine = RowSubset(self.valid_rows, shards[self.process])
        batch_size = self.runtime.inference_batch_size
        local = predict_proba(self.unwrapped, mine, batch_size, [self.device], progress=False)
        return gather_rows(local, shards, len(self.valid_rows))

    def _mean_over_processes(self, losses: list[float]) -> float:
        totals = torch.tensor([sum(losses), len(losses)], dtype=torch.float64, device=self.accelerator.device)
        total, count = self.accelerator.reduce(totals, "sum").tolist()
        return total / count if count else math.nan

    def validate(self, losses: list[float]) -> None:
        loop = self.loop
        record = {
            "epoch": loop.epoch + loop.batch / self.batches_per_epoch,
            "step": loop.step,
            "train_loss": self._mean_over_processes(losses),
        }
        if len(self.valid_rows):
            started = time.perf_counter()
            with timed("validate"):
                report = evaluate(self.y_valid, self._predict_valid())
            loop.validate_seconds += time.perf_counter() - started
            record.update(
                valid_log_loss=report["log_loss"], valid_accuracy=report["accuracy"], valid_macro_f1=report["macro_f1"]
            )
            if report["log_loss"] < loop.best_loss - 1e-6:
                loop.best_loss, loop.best_state, loop.bad_evals = report["log_loss"], trainable_state(self.unwrapped), 0
            else:
                loop.bad_evals += 1
                loop.stopped = loop.bad_evals >= self.training.patience
            self.model.train()
        seconds = loop.train_seconds + loop.validate_seconds  # so far, over every launch of this run
        record.update(seconds=seconds, train_seconds=loop.train_seconds, validate_seconds=loop.validate_seconds)
        loop.history.append(record)

    # -- the run --------------------------------------------------------------------------------

    def _epoch(self, bar) -> None:
        loop, config = self.loop, self.training
        batches = length_grouped_batches(
            self.train_rows.lengths, config.batch_size, seed=config.seed + loop.epoch, pairs=config.swap_pairs
        )
        plan = process_batches(batches, self.n_processes, self.process, self.grad_accum, self.pad)
        losses: list[float] = []
        started = time.perf_counter()
        while loop.batch < len(plan) and not loop.stopped:
            batch, weight = plan[loop.batch]
            loss = self._train_batch(batch, weight)
            if weight:
                losses.append(loss)
            loop.batch += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]) if losses else math.nan:.4f}")
            if loop.batch % self.grad_accum:
                continue
            if not self.accelerator.optimizer_step_was_skipped:  # fp16: an overflowing step is skipped
                self.scheduler.step()
            loop.step += 1
            loop.train_seconds += time.perf_counter() - started
            if config.eval_every and loop.step % config.eval_every == 0 and loop.batch < len(plan):
                self.validate(losses)
            if self.runtime.checkpoint_every and loop.step % self.runtime.checkpoint_every == 0:
                self.save_checkpoint()
            started = time.perf_counter()
        if not loop.stopped:
            self.validate(losses)
            loop.epoch, loop.batch = loop.epoch + 1, 0
        self.save_checkpoint()

    def run(self) -> list[dict]:
        """Train in place; leave the best validated weights in the model; return per-validation metrics."""
        loop = self.loop
        bar = tqdm(
            total=self.batches_per_epoch * self.training.epochs,
            initial=loop.epoch * self.batches_per_epoch + loop.batch,
            desc="train",
            disable=not self.progress or loop.finished,
        )
        self.model.train()
        with timed("train"):
            while not (loop.finished or loop.stopped) and loop.epoch < self.training.epochs:
                self._epoch(bar)
        bar.close()
        loop.finished = True
        if loop.best_state is not None:
            load_trainable_state(self.unwrapped, loop.best_state)
        self.save_checkpoint()
        self.accelerator.unwrap_model(self.model, keep_fp32_wrapper=False)  # the model's own forward again
        self.accelerator.free_memory()
        self.unwrapped.eval()
        return loop.history


def train_classifier(model, *args, **kwargs) -> list[dict]:
    """Train in place and leave the best validated weights in the model; return per-validation metrics.

    The arguments are Trainer's: train_rows, y_train, valid_rows, y_valid, training, runtime, device
    (this process's: in a launched run, each process's own, cuda:<local rank> or cpu).
    """
    return Trainer(model, *args, **kwargs).run()
