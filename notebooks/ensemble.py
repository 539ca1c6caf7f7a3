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
# # Ensemble: the submission
#
# Finds every trained model's folder (the run folder locally; on Kaggle the training kernels'
# outputs and datasets under /kaggle/input, found by their files), runs each model's fold models
# on the current test.csv, blends them with weights fitted on out-of-fold predictions and writes
# submission.csv: the fitted blend, equal weights or the best single model, whichever scores best
# on out-of-fold rows it was not fitted on. On Kaggle this notebook is re-run on the hidden test.csv (about 25,000 rows,
# internet off, 9 hours), so inference always happens here. Run locally with
# `python build.py run` (all notebooks) or `python build.py run ensemble`.

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
out_dir = "."  # run folder: model folders are read from here, submission.csv is written here
models = None  # model names to blend; None: every pipeline model (baseline, minilm_lgbm, deberta_lora)
swap_average = True  # average each model's prediction with the swapped rows' where it can; None: each model's own
inference = None  # per model, a profile or settings for its test inference, e.g. {"deberta_lora": "decoder_2xt4"}
# (settings there beat swap_average above, which beats the profile's: {"deberta_lora": {"profile": ..., ...}})
cascade = None  # e.g. {"deberta_lora": 0.3}: that model on the 30% of rows the cheaper ones are least sure of
# (a candidate of the blend choice; None: only when the time budget needs one); {"deberta_lora:swapped": 0.3}:
# deberta_lora one order on every row, its A/B-swapped pass (swap TTA) on the 30% least sure
time_budget_s = None  # inference budget; None: 9 h less a 1 h margin on Kaggle, unlimited locally
timing_rows = 512  # test rows each model is timed on before the full run (their predictions are kept)
min_tokens = 256  # the budget fallback never shortens a model's token cap (max_length, max_seq_length) below this
benchmark_rows = None  # e.g. 25000: also estimate the time for that many test rows on this machine
model_temperatures = True  # fit a temperature per model on its out-of-fold predictions
blend_temperature = True  # fit a temperature for the blend

# %%
# Every parameter above, checked against its declared type and range: a wrong one stops here, named.
from arenakit.ensemble.run import ENSEMBLE_SETTINGS
from arenakit.pipeline.notebooks import check_parameters

check_parameters(globals(), ENSEMBLE_SETTINGS)

# %%
from pathlib import Path

from IPython.display import display

from arenakit.data import load_competition, resolve_data_dir
from arenakit.ensemble import EnsembleRun
from arenakit.ensemble.benchmark import benchmark
from arenakit.ensemble.consistency import consistency
from arenakit.evaluation.plots import plot_blend_weights, plot_cascade_curve

out_dir = Path(out_dir)
data_dir = resolve_data_dir(data_dir, out_dir)
competition = load_competition(data_dir)
print(f"data: {data_dir}  train rows: {len(competition.train)}  test rows: {len(competition.test)}")
run = EnsembleRun(
    out_dir,
    competition,
    models=models,
    time_budget_s=time_budget_s,
    swap_average=swap_average,
    inference=inference,
    cascade=cascade,
)
run.members_table()

# %% [markdown]
# ## Time budget
# Each model is timed on a slice of test rows (with a fresh embedding cache) and the time is
# extrapolated to the whole test. Over the budget, the fallback goes: swap-averaging off (its swapped
# pass kept on the least certain rows the time allows, when the model saved both orders), then
# each model's token cap halved, then the slowest model on the share of rows the time left allows
# (a cascade stage: the rows the cheaper models are least sure of), then the slowest model dropped,
# re-timing after each step.

# %%
run.plan_budget(timing_rows=timing_rows, min_tokens=min_tokens)

# %%
if benchmark_rows:
    display(benchmark(run.members, competition, benchmark_rows, timing_rows, swap_average, inference))

# %% [markdown]
# ## Blend
# Non-negative weights summing to 1 (and temperatures), fitted on the train rows predicted
# out-of-fold: every row for the models trained on every fold; a model trained on some folds
# comes in on its own rows (`rows` below), or stays out of the blend with fewer than 150. The
# submission uses the candidate with the lowest honest log loss on the same rows: the fitted
# blend's is cross-fitted (fitted on four fifths of the rows, scored on the fifth it did not
# see); equal weights and single models fit nothing, so their out-of-fold scores are honest.
# A cascade (`cascade`, or set by the time budget) is one more candidate, cross-fitted the same way.

# %%
comparison = run.fit_blend(model_temperatures=model_temperatures, blend_temperature=blend_temperature)
comparison

# %%
run.blend.table()

# %%
plot_blend_weights(run.blend.table(), comparison, out_dir / "ensemble" / "plots" / "blend_weights.png")

# %% [markdown]
# ## Cascade: what the expensive models buy on the least certain rows
# The cheapest model (by time per row) runs on every row; each later one only on the rows where the
# blend before it is least certain (highest entropy), above a threshold fitted on out-of-fold rows.
# Below: the cross-fitted out-of-fold log loss against the share routed to each later model (the
# others as chosen), the chosen share starred, and the estimated inference time at each share on
# this machine for `benchmark_rows` test rows (else this test.csv's). What half the time of the big
# model costs reads off the curve.

# %%
curve = run.cascade_curve(n_rows=benchmark_rows)
if len(curve):
    plot_cascade_curve(curve, out_dir / "ensemble" / "plots" / "cascade.png")
curve
# %% [markdown]
# ## Inference on test.csv
# The fold models of every model the blend uses, on the whole test file. The gap to the
# predictions its training run stored is shown where the ids match (locally; never on Kaggle's
# hidden test).

# %%
run.predict_test()

# %%
consistency(run.members, competition.test["id"], run.test_proba)

# %% [markdown]
# ## Submission

# %%
run.write_submission()
run.submission_head()

# %% [markdown]
# ## Where the time went

# %%
run.time_table()
