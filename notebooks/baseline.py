# ---
# jupyter:
#   arenakit:
#     enable_gpu: false
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
# # Baseline: the data, then logistic regression on length and structure features
#
# Run locally with `python build.py run baseline` (synthetic sample) or
# `python build.py run --data-dir data baseline` (the competition files). On Kaggle the
# competition folder is found under /kaggle/input.

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
C = None  # logistic regression regularisation; None: chosen by inner cross-validation
swap_augment = True  # train on both A/B orders
swap_average = True  # average each prediction with the mapped-back prediction on swapped rows

# %%
# Every parameter above, checked against its declared type and range: a wrong one stops here, named.
from arenakit.models.baseline import BaselineModel
from arenakit.pipeline.notebooks import RUN_SETTINGS, check_parameters

check_parameters(globals(), RUN_SETTINGS, BaselineModel.declared_settings)

# %%
from pathlib import Path

from arenakit.core.paths import resolve_data_dir
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.evaluation.metrics import per_class_table
from arenakit.evaluation.overview import longer_response_win_rate, plot_overview, summary_table
from arenakit.evaluation.plots import plot_top_features
from arenakit.pipeline.cv import cross_validate

out_dir = Path(out_dir)
data_dir = resolve_data_dir(data_dir, out_dir)
competition = load_competition(data_dir)
train, test = competition.train, competition.test
print(f"data: {data_dir}  train rows: {len(train)}  test rows: {len(test)}")

# %% [markdown]
# ## The data
# Sizes, multi-turn share and empty responses; cells that were not clean JSON lists are kept
# as raw text and listed below (the real training data has none).

# %%
summary_table(competition)

# %%
competition.issues_frame()

# %%
print(f"longer response wins {longer_response_win_rate(train):.1%} of decided rows")
plot_overview(train, out_dir / "plots" / "data_overview.png")
# %% [markdown]
# ## Folds
# Stratified by label and grouped by prompt; saved in the run folder so every model shares them.

# %%
folds = shared_folds(out_dir, train, n_folds=n_folds, seed=seed)
train.assign(fold=folds).pivot_table(index="fold", columns="label", values="id", aggfunc="count")

# %% [markdown]
# ## Out-of-fold evaluation
# One model per fold, each trained on the other folds with C chosen by an inner CV on its own
# training rows; every train row is predicted once by the model that did not see it.

# %%
model = BaselineModel(C=C, swap_augment=swap_augment, swap_average=swap_average, seed=seed)
run = cross_validate(model, train, folds, test=test, name="baseline")
print(run.summary())
print("C per fold:", [fold_model.C_ for fold_model in run.ensemble.models])

# %%
per_class_table(train["label"].to_numpy(), run.oof)

# %%
figures = run.plots(train, out_dir)

# %% [markdown]
# ## What the model uses
# Standardised coefficients of the first fold model (features are signed-log transformed), and
# how far one-order predictions (before swap averaging) are from A/B symmetric on held-out rows.

# %%
plot_top_features(
    run.ensemble.models[0].coefficients(),
    out_dir / "baseline" / "plots" / "coefficients.png",
    title="Top standardised coefficients (fold 0)",
)
print(f"mean |P - swapped P| of one-order predictions on held-out rows: {run.record_swap_asymmetry(train, folds):.4f}")

# %% [markdown]
# ## Artifacts
# oof.csv, test.csv, metrics.json and the fold models, read by the ensemble notebook.

# %%
folder = run.save(out_dir, train, test)
sorted(path.name for path in folder.iterdir())
