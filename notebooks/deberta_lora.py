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
# tokens (fits a 16 GB T4 in fp16); on a CPU, a one-minute run of the bundled all-MiniLM-L6-v2 that
# shows the pipeline working. Run with `python build.py run deberta_lora`.
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
# when arenakit is importable. It uses the standard library only: arenakit is not installed yet.
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

WHEELS_MARKER = "arenakit-wheels.json"


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


if __name__ == "__main__":
    install_bundled_wheels()

# %% tags=["parameters"]
data_dir = None  # competition folder; None: Kaggle input, else the synthetic sample in out_dir/data
out_dir = "."  # run folder shared by all notebooks (folds.csv, one subfolder per model)
n_folds = 5
seed = 42
folds_to_train = None  # fold numbers to train, e.g. [0] or [0, 1, 2, 3, 4]; None: profile ([0])
backbone = None  # name ("microsoft/deberta-v3-small", "minilm") or folder; None: profile
architecture = "cross_encoder"  # or "siamese": prompt + A and prompt + B encoded apart, symmetric head
finetune = None  # siamese only: "lora" (None) or "full": every encoder weight trained, lr around 2e-5
max_length = None  # tokens per sequence (siamese: per side), specials included; None: profile (1024 GPU, 64 CPU)
lora_r = None  # adapter rank; None: profile, else 8 (decoder_train: 16)
lora_alpha = None  # None: profile, else 16 (decoder_train: 32)
lora_dropout = None  # None: profile, else 0.05
learning_rate = None  # None: profile (2e-4 GPU, 5e-4 CPU)
epochs = None  # None: profile (1)
batch_size = None  # None: profile (4 GPU, 16 CPU)
grad_accum = None  # batches per optimizer step; None: profile (4 GPU, 1 CPU)
label_smoothing = 0.0
max_train_rows = None  # cap on training rows per fold; None: profile (all GPU, 96 CPU)
inference_batch_size = None  # None: profile
swap_augment = None  # train on both A/B orders; None: yes for the cross-encoder, no for siamese (symmetric)
swap_same_batch = True  # a row and its swap in the same batch
swap_average = None  # average each prediction with the mapped-back one on swapped rows; None: yes (siamese: ignored)
gradient_checkpointing = None  # trade compute for memory; None: profile (decoder_train: on), else off
quantize = None  # "8bit" or "4bit" through bitsandbytes, each device its own copy; None: profile (decoder_train: 4bit)
dtype = None  # frozen weights: "auto" (decoders fp16 on a T4, bf16 on newer GPUs; encoders fp32) or a dtype; None: auto
max_batch_tokens = None  # cap inference batches by padded tokens instead of rows; None: inference_batch_size rows
layers_to_transform = None  # block numbers that get adapters, e.g. list(range(16, 42)); None: every block
profile = None  # None: the device's (gpu, cpu); "decoder_train": QLoRA of Gemma-2-9B on one 40-80 GB GPU
device = "auto"  # "auto": every CUDA device, else the CPU; or "cuda:0,cuda:1"

# %% [markdown]
# Every parameter above that is a LoRA setting (arenakit.models.lora.settings; or folds_to_train,
# profile, architecture) is checked against its declared type and range and goes to the estimator
# the architecture names (CrossEncoderClassifier, SiameseClassifier). One precedence: a value
# given here beats the profile's, which beats the default; None means "not given". The same run
# trains outside notebooks, on every GPU: `torchrun --nproc_per_node 4 -m arenakit.train lora --out RUN ...`.

# %%
from arenakit.train.lora import LoRATrainingRun

run = LoRATrainingRun(data_dir, out_dir, globals(), n_folds=n_folds, seed=seed)
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
