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
# # Baseline: the data, then logistic regression on length and structure features
#
# Run locally with `python build.py run baseline` (synthetic sample) or
# `python build.py run --data-dir data baseline` (the competition files). On Kaggle the
# competition folder is found under /kaggle/input.

# %% tags=["parameters"]
data_dir = None  # competition folder; None: Kaggle input, else the synthetic sample in out_dir/data
out_dir = "."  # run folder shared by all notebooks (folds.csv, one subfolder per model)
n_folds = 5
seed = 42

# %%
from pathlib import Path

from arenakit.data import load_competition
from arenakit.folds import shared_folds
from arenakit.overview import longer_response_win_rate, plot_overview, summary_table
from arenakit.paths import resolve_data_dir

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
plot_overview(train, out_dir / "plots" / "data_overview.png");

# %% [markdown]
# ## Folds
# Stratified by label and grouped by prompt; saved in the run folder so every model shares them.

# %%
folds = shared_folds(out_dir, train, n_folds=n_folds, seed=seed)
train.assign(fold=folds).pivot_table(index="fold", columns="label", values="id", aggfunc="count")
