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
out_dir = "."  # run folder: model folders are read from here, submission.csv is written here
models = None  # model names to blend; None: every pipeline model (baseline, minilm_lgbm, deberta_lora)
swap_average = True  # average each model's prediction with the swapped rows' where it can; None: each model's own
inference = None  # per model, a profile or settings for its test inference, e.g. {"deberta_lora": "decoder_2xt4"}
# (settings there beat swap_average above, which beats the profile's: {"deberta_lora": {"profile": ..., ...}})
time_budget_s = None  # inference budget; None: 9 h less a 1 h margin on Kaggle, unlimited locally
timing_rows = 512  # test rows each model is timed on before the full run (their predictions are kept)
min_max_length = 256  # the budget fallback never shortens a model's max_length below this
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

from arenakit.core.paths import resolve_data_dir
from arenakit.data import load_competition
from arenakit.ensemble import EnsembleRun
from arenakit.ensemble.benchmark import benchmark
from arenakit.ensemble.consistency import consistency
from arenakit.evaluation.plots import plot_blend_weights

out_dir = Path(out_dir)
data_dir = resolve_data_dir(data_dir, out_dir)
competition = load_competition(data_dir)
print(f"data: {data_dir}  train rows: {len(competition.train)}  test rows: {len(competition.test)}")
run = EnsembleRun(
    out_dir, competition, models=models, time_budget_s=time_budget_s, swap_average=swap_average, inference=inference
)
run.members_table()

# %% [markdown]
# ## Time budget
# Each model is timed on a slice of test rows (with a fresh embedding cache) and the time is
# extrapolated to the whole test. Over the budget, the fallback goes: swap-averaging off, then
# max_length halved, then the slowest model dropped, re-timing after each step.

# %%
run.plan_budget(timing_rows=timing_rows, min_max_length=min_max_length)

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

# %%
comparison = run.fit_blend(model_temperatures=model_temperatures, blend_temperature=blend_temperature)
comparison

# %%
run.blend.table()

# %%
plot_blend_weights(run.blend.table(), comparison, out_dir / "ensemble" / "plots" / "blend_weights.png")
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
