# ---
# jupyter:
#   arenakit:
#     loads_backbones: true
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # DeBERTa-LoRA: a fine-tuned cross-encoder with LoRA adapters
#
# One input per row, "[CLS] prompt [SEP] response A [SEP] response B [SEP]", read by a Hugging Face
# sequence classifier (DeBERTa-v3 on Kaggle, any backbone by name or folder) whose attention and
# feed-forward layers get LoRA adapters; the classification head is trained in full. Every
# training row is seen in both A/B orders, and predictions average both orders.
#
# With `architecture = "siamese"`, one shared encoder reads "prompt + response A" and "prompt +
# response B" as two sequences of max_length tokens each (so each response gets about twice the
# room), mean-pools each, and a head symmetric by construction turns the two vectors into the
# three probabilities: swapping A and B swaps P(A) and P(B) exactly, so inference needs no swapped
# pass (swap_average is ignored) and training needs no swapped rows (swap_augment defaults to off).
# Encoder backbones only (DeBERTa-v3, RoBERTa, ELECTRA, BERT/MiniLM); `finetune = "full"` trains
# every encoder weight instead of LoRA adapters.
#
# Settings left at None take the device's profile: on a GPU, microsoft/deberta-v3-small at 1024
# tokens (fits a 16 GB T4 in fp16); on a CPU, a Siamese all-MiniLM-L6-v2 (the bundled copy) at 64
# tokens a side with adapters on its last block, one epoch: about a minute, and it learns.
# Run with `python build.py run deberta_lora`.
#
# Two GPUs (Kaggle's 2 x T4): inference deals the length-sorted batches out to both, a model
# copy per GPU. Training in a notebook uses one: DDP needs one process per GPU, and a papermill
# kernel cannot host those reliably (the launched processes must re-import everything the
# notebook defines). Train on every GPU with the training command instead (`python -m
# arenakit.train lora` under torchrun, same code, same artifacts), or train two folds at once in
# two kernels, each with `folds_to_train`.

# %% tags=["arenakit-bootstrap"]
# arenakit bootstrap: install the kit offline on Kaggle, before anything imports it.
# This cell is lib/arenakit/kaggle_build/bootstrap.py, copied by `python build.py pair` into every notebook;
# edit it there. On Kaggle (or with ARENAKIT_BOOTSTRAP=1) it finds the wheels dataset under the input root by
# its marker file and installs the bundled wheels with pip, without the internet; locally it does nothing
# when arenakit is importable. The install uses the standard library only: arenakit is not installed yet.
# Then, on a machine with an NVIDIA GPU, it says in bold when the GPU cannot run the installed torch
# (the P100 under the current Kaggle image) or when there are fewer GPUs than the settings assume.
import glob
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

WHEELS_MARKER = "arenakit-wheels.json"
# GPUs this notebook's settings assume: `python build.py pair` writes 2 here when its parameters cell
# sets swap_on_second_device (the decoder_2xt4 profile does: the original order on GPU 0, the swapped on GPU 1).
GPUS_ASSUMED = 1
T4_SHAPE = '"machine_shape": "NvidiaTeslaT4" in kernel-metadata.json (2 x T4)'


def install_bundled_wheels(depth=4):
    """Install every wheel of the first folder under the input root that holds WHEELS_MARKER."""
    on_kaggle = "KAGGLE_KERNEL_RUN_TYPE" in os.environ or os.environ.get("ARENAKIT_BOOTSTRAP") == "1"
    if not on_kaggle and importlib.util.find_spec("arenakit") is not None:
        return None
    # The same search as arenakit.core.paths.iter_input_dirs (not importable yet): shallowest folder first.
    root = Path(os.environ.get("ARENAKIT_KAGGLE_INPUT", "/kaggle/input"))
    level = [root] if root.is_dir() else []
    for _ in range(depth + 1):
        found = sorted(folder for folder in level if (folder / WHEELS_MARKER).is_file())
        if found:
            wheels = sorted(str(path) for path in found[0].glob("*.whl"))
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--no-index",
                    "--no-deps",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--find-links",
                    str(found[0]),
                    *wheels,
                ],
                check=True,
            )
            importlib.invalidate_caches()
            print(f"arenakit bootstrap: installed {len(wheels)} wheels from {found[0]}")
            return found[0]
        level = sorted(child for folder in level for child in folder.iterdir() if child.is_dir())
    if importlib.util.find_spec("arenakit") is None:
        raise RuntimeError(
            f"arenakit is not installed and no folder under {root} holds {WHEELS_MARKER}: attach the "
            f"wheels dataset that `python build.py` builds (dataset_sources of kernel-metadata.json)"
        )
    return None


def _runs_kernels_for(capability, arch_list) -> bool:
    """Whether torch built for arch_list runs on a GPU of this (major, minor) capability.

    A cubin for sm_XY runs on capability X.Z with Z >= Y (same major); PTX (compute_XY) is compiled
    at load for any capability from X.Y up.
    """
    major, minor = capability
    for arch in arch_list:
        kind, _, digits = arch.partition("_")
        if not digits[:-1].isdigit() or not digits[-1:].isdigit():
            continue
        built = (int(digits[:-1]), int(digits[-1]))
        if (kind == "sm" and built[0] == major and built[1] <= minor) or (kind == "compute" and built <= capability):
            return True
    return False


def gpu_problems(capability, arch_list, device_count, gpus_assumed=1, op_error="", name="This GPU"):
    """What stops or slows this notebook on the GPUs it got, each with what to change; [] when nothing.

    The device facts are given (gpu_facts reads them from torch), so every case is testable without one.
    """
    problems = []
    no_kernels = "no kernel image" in (op_error or "").lower()
    if capability is not None and arch_list and (no_kernels or not _runs_kernels_for(tuple(capability), arch_list)):
        problems.append(
            f"{name} (compute capability {capability[0]}.{capability[1]}) cannot run the installed torch, which "
            f'has CUDA kernels for {", ".join(arch_list)}: every CUDA operation fails with "no kernel image is '
            f'available for execution on the device" (the P100, sm_60, under the current Kaggle image). Ask for '
            f"the T4: set {T4_SHAPE}, then `python build.py kernels` and push again; in Kaggle's editor, pick "
            f"GPU T4 x2 as the accelerator"
        )
    elif no_kernels:
        problems.append(f"{name} cannot run the installed torch ({op_error.strip()}). Ask for the T4: set {T4_SHAPE}")
    if 0 < device_count < gpus_assumed:
        problems.append(
            f"This notebook's settings assume {gpus_assumed} GPUs (swap_on_second_device, which the decoder_2xt4 "
            f"profile sets: the original A/B order on GPU 0, the swapped order on GPU 1), but this machine has "
            f"{device_count}: both orders run on one GPU, about twice the time, and the time budget may turn "
            f"swap-averaging off. Set {T4_SHAPE}, or set swap_on_second_device=False in the notebook's settings"
        )
    return problems


def gpu_facts():
    """(capability, arch list, device count, error of a tiny CUDA op, device name) from torch; None without a GPU."""
    if not glob.glob("/dev/nvidia[0-9]*") or importlib.util.find_spec("torch") is None:
        return None  # no NVIDIA device here: nothing to check, and no torch import to pay for
    import torch

    if not torch.cuda.is_available():
        return None
    try:
        (torch.ones(4, device="cuda") * 2).sum().item()  # the op that fails on a GPU torch has no kernels for
        op_error = ""
    except RuntimeError as error:
        op_error = str(error)
    capability = torch.cuda.get_device_capability(0)
    return capability, torch.cuda.get_arch_list(), torch.cuda.device_count(), op_error, torch.cuda.get_device_name(0)


def check_gpus(gpus_assumed=GPUS_ASSUMED, facts=None):
    """Show in bold each problem with the GPUs this notebook got (facts: gpu_facts()); the problems."""
    facts = gpu_facts() if facts is None else facts
    if facts is None:
        return []
    capability, arch_list, device_count, op_error, name = facts
    problems = gpu_problems(capability, arch_list, device_count, gpus_assumed, op_error, name)
    from arenakit.core import notice  # installed by now

    for problem in problems:
        notice(problem)
    return problems


if __name__ == "__main__":
    install_bundled_wheels()
    check_gpus(GPUS_ASSUMED)

# %% tags=["parameters"]
data_dir = None  # competition folder; None: Kaggle input, else the synthetic sample in out_dir/data
out_dir = "."  # run folder shared by all notebooks (folds.csv, one subfolder per model)
n_folds = 5
seed = 42
folds_to_train = None  # fold numbers to train, e.g. [0] or [0, 1, 2, 3, 4]; None: profile ([0])
backbone = None  # name ("microsoft/deberta-v3-small", "minilm") or folder; None: profile
architecture = None  # "cross_encoder" or "siamese" (above); None: profile (cross_encoder GPU, siamese CPU)
finetune = None  # siamese only: "lora" (None) or "full": every encoder weight trained, lr around 2e-5
max_length = None  # tokens per sequence (siamese: per side), specials included; None: profile (1024 GPU, 64 CPU)
lora_r = None  # adapter rank; None: profile, else 8 (decoder_train: 16)
lora_alpha = None  # None: profile, else 16 (decoder_train: 32)
lora_dropout = None  # None: profile, else 0.05
learning_rate = None  # None: profile (2e-4 GPU, 3e-3 CPU)
epochs = None  # None: profile (1)
batch_size = None  # None: profile (4 GPU, 16 CPU)
grad_accum = None  # batches per optimizer step; None: profile (4 GPU, 1 CPU)
label_smoothing = 0.0
max_train_rows = None  # cap on training rows per fold; None: profile (all)
inference_batch_size = None  # None: profile
swap_augment = None  # train on both A/B orders; None: yes for the cross-encoder, no for siamese (symmetric)
swap_same_batch = True  # a row and its swap in the same batch
swap_average = None  # average each prediction with the mapped-back one on swapped rows; None: yes (siamese: ignored)
gradient_checkpointing = None  # trade compute for memory; None: profile (decoder_train: on), else off
quantize = None  # "8bit" or "4bit" through bitsandbytes, each device its own copy; None: profile (decoder_train: 4bit)
dtype = None  # frozen weights: "auto" (decoders fp16 on a T4, bf16 on newer GPUs; encoders fp32) or a dtype; None: auto
max_batch_tokens = None  # cap inference batches by padded tokens instead of rows; None: inference_batch_size rows
layers_to_transform = None  # blocks with adapters, e.g. list(range(16, 42)); None: profile (CPU [5]), else all
profile = None  # None: the device's (gpu, cpu); "decoder_train": QLoRA of Gemma-2-9B on one 40-80 GB GPU
device = "auto"  # "auto": every CUDA device, else the CPU; or "cuda:0,cuda:1"
teacher = None  # distil: "ensemble", a model of this run (e.g. "minilm_lgbm"), or a teacher file; None: labels alone
extra_data = None  # extra rows for training folds only: a file, a list of files, or {file: weight}
distill_weight = None  # with a teacher: the KL term's share of the loss; None: 0.5
distill_temperature = None  # with a teacher: the KL term's temperature; None: 1.0

# %% [markdown]
# Every parameter above that is a LoRA setting (arenakit.models.lora.settings; or folds_to_train,
# profile, architecture) is checked against its declared type and range and goes to the estimator
# the architecture names (CrossEncoderClassifier, SiameseClassifier). One precedence: a value
# given here beats the profile's, which beats the default; None means "not given". The same run
# trains outside notebooks, on every GPU: `torchrun --nproc_per_node 4 -m arenakit.train lora --out RUN ...`.

# %%
from arenakit.train.lora import LoRATrainingRun

run = LoRATrainingRun(data_dir, out_dir, globals(), n_folds=n_folds, seed=seed, teacher=teacher, extra_data=extra_data)
run.describe()

# %% [markdown]
# ## What the model reads
# The first row as the model sees it (the tokenizer's specials are added around it; siamese: side
# A, then side B), and the token count of every training row against max_length (siamese: its
# longer side).

# %%
first = run.model.input_texts(run.train_frame.iloc[:1])[0]
for text in first if isinstance(first, tuple) else [first]:  # siamese: the (A, B) pair
    print(text[:1500], end="\n\n")
run.token_lengths().describe().to_frame().T

# %% [markdown]
# ## Training and out-of-fold evaluation
# Each trained fold fine-tunes on the other folds (early stopping on an inner 10% holdout,
# grouped by prompt) and predicts its own fold. Fold models and checkpoints are saved as they
# go: re-running this notebook resumes an interrupted fold and reuses finished ones.

# %%
run.train()
print(run.summary())

# %%
run.history_table()

# %%
run.per_class_table()

# %%
figures = run.plots()

# %% [markdown]
# ## Artifacts
# oof.csv (the trained folds' rows), test.csv, metrics.json with the per-epoch history, and per
# fold the adapters and head (peft format) with the formatter version, read by the ensemble.
# Then where the time went.

# %%
folder = run.save()
print(sorted(path.name for path in folder.iterdir()))
run.time_table()
