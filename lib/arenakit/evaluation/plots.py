"""The plots a model run shows: confusion matrix, reliability diagram, log loss by length.

Figures are made with plt.subplots so they display inline in notebooks, and are never closed
here: the caller may still want to show them. The backend is left to the caller (notebooks use
the inline one, scripts and tests set Agg). With `path`, a PNG is saved there too.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from arenakit.core.schema import CLASS_NAMES, N_CLASSES
from arenakit.evaluation.metrics import check_predictions

UNIFORM_LOG_LOSS = math.log(N_CLASSES)
CLASS_COLORS = ("tab:blue", "tab:orange", "tab:gray")  # A, B, tie: ties read as "neither"


def _save(fig, path) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")


def plot_confusion_matrix(y, proba, path=None, title=None):
    """Argmax confusion matrix; cells show the count and the share of the true class's rows.

    Colour follows the row share, so a rare class's errors are as visible as a common one's.
    """
    y, proba = check_predictions(y, proba)
    pred = proba.argmax(axis=1)
    counts = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(counts, (y, pred), 1)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(N_CLASSES):
        for j in range(N_CLASSES):
            ax.text(
                j,
                i,
                f"{counts[i, j]}\n{shares[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(N_CLASSES), CLASS_NAMES)
    ax.set_yticks(range(N_CLASSES), CLASS_NAMES)
    ax.set_xlabel("predicted (argmax)")
    ax.set_ylabel("true")
    ax.set_title(title or f"Confusion matrix (n={len(y)})")
    fig.colorbar(image, ax=ax, label="share of true class", fraction=0.046, pad=0.04)
    _save(fig, path)
    return fig


def plot_reliability(y, proba, path=None, n_bins=10, title=None):
    """One-vs-rest reliability curves for A, B and tie, with the predictions' histogram below.

    Predictions are binned on equal-width bins of [0, 1]; each point is a bin's mean predicted
    probability against how often that class happened there. Empty bins have no point.
    """
    y, proba = check_predictions(y, proba)
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be at least 1; got {n_bins}")
    n_bins = int(n_bins)
    edges = np.linspace(0, 1, n_bins + 1)

    fig, (ax, hist_ax) = plt.subplots(2, 1, figsize=(5.5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], linestyle="--", color="black", linewidth=1, label="perfect")
    for k, (name, color) in enumerate(zip(CLASS_NAMES, CLASS_COLORS)):
        p = proba[:, k].astype(np.float64)
        hit = (y == k).astype(np.float64)
        bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
        counts = np.bincount(bins, minlength=n_bins)
        filled = counts > 0
        mean_p = np.bincount(bins, weights=p, minlength=n_bins)[filled] / counts[filled]
        observed = np.bincount(bins, weights=hit, minlength=n_bins)[filled] / counts[filled]
        ax.plot(mean_p, observed, marker="o", color=color, label=name)
        hist_ax.hist(p, bins=edges, histtype="step", color=color, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed frequency")
    ax.set_title(title or f"Reliability (one vs rest, n={len(y)})")
    ax.legend(loc="upper left")
    hist_ax.set_xlabel("predicted probability")
    hist_ax.set_ylabel("rows")
    _save(fig, path)
    return fig


def plot_log_loss_by_length(table, path=None, title=None):
    """Bars of log loss per length bucket, against the uniform guess (ln 3).

    `table` is log_loss_by_length's DataFrame or the "by_length" list from evaluate (a reloaded
    metrics.json). Empty buckets keep their label and get no bar.
    """
    table = pd.DataFrame(table)
    missing = {"bucket", "n", "min_length", "max_length", "log_loss"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}; pass log_loss_by_length's")
    labels = []
    for row in table.itertuples(index=False):
        if row.n:
            labels.append(f"{row.bucket}\n{row.min_length:.0f}-{row.max_length:.0f}\nn={row.n}")
        else:
            labels.append(f"{row.bucket}\nn=0")
    losses = pd.to_numeric(table["log_loss"], errors="coerce").to_numpy(dtype=np.float64)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    positions = np.arange(len(table))
    bars = ax.bar(positions, np.nan_to_num(losses), color="tab:blue")
    for bar, loss in zip(bars, losses):
        if np.isfinite(loss):
            ax.annotate(f"{loss:.3f}", (bar.get_x() + bar.get_width() / 2, loss), ha="center", va="bottom", fontsize=9)
    uniform_label = f"uniform (ln 3 = {UNIFORM_LOG_LOSS:.4f})"
    ax.axhline(UNIFORM_LOG_LOSS, color="red", linestyle="--", label=uniform_label)
    ax.set_xticks(positions, labels)
    ax.set_xlabel("length bucket")
    ax.set_ylabel("log loss")
    # Real models sit within a few hundredths of ln 3, invisible on an axis from 0: zoom to the
    # values (the labels on the bars carry the exact numbers).
    shown = [UNIFORM_LOG_LOSS, *losses[np.isfinite(losses)]]
    low = 0.9 * min(shown)
    ax.set_ylim(low, max(shown) + 0.3 * (max(shown) - low))
    ax.set_title(title or "Log loss by length")
    ax.legend(loc="upper right")
    _save(fig, path)
    return fig


def plot_top_features(table, path=None, title=None, top: int = 20):
    """Horizontal bars of the largest entries: a Series (importance) or a DataFrame (one column per class)."""
    table = table.head(top).iloc[::-1]
    ax = table.plot.barh(figsize=(8, 0.3 * len(table) + 1.5), title=title or "Top features")
    fig = ax.figure
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_blend_weights(weights: pd.DataFrame, comparison: pd.DataFrame, path=None, title=None):
    """Blend weights per model (temperature on each bar) beside the log loss of singles, equal weights and blend.

    `weights` is Blend.table() (columns weight, temperature); `comparison` is compare_blends'
    table (column log_loss), both indexed by name.
    """
    fig, (weight_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 0.45 * max(len(weights), len(comparison)) + 2))
    names = list(weights.index)
    bars = weight_ax.barh(names, weights["weight"], color="tab:blue")
    for bar, weight, temperature in zip(bars, weights["weight"], weights["temperature"]):
        weight_ax.annotate(
            f"{weight:.2f} (T={temperature:.2f})",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    weight_ax.set_xlim(0, 1.25)
    weight_ax.invert_yaxis()
    weight_ax.set_xlabel("weight (sums to 1)")
    weight_ax.set_title("Blend weights (T: model temperature)")

    losses = comparison["log_loss"].astype(float)
    colors = ["tab:green" if "blend" in label else "tab:gray" for label in losses.index]
    loss_bars = loss_ax.barh(list(losses.index), losses, color=colors)
    for bar, loss in zip(loss_bars, losses):
        loss_ax.annotate(
            f"{loss:.4f}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    # The losses differ in the third decimal: zoom to them, as plot_log_loss_by_length does.
    low, high = float(losses.min()), max(float(losses.max()), UNIFORM_LOG_LOSS)
    loss_ax.set_xlim(low - 0.2 * (high - low) - 1e-3, high + 0.35 * (high - low) + 1e-3)
    loss_ax.axvline(UNIFORM_LOG_LOSS, color="red", linestyle="--", label=f"uniform ({UNIFORM_LOG_LOSS:.4f})")
    loss_ax.invert_yaxis()
    loss_ax.set_xlabel("out-of-fold log loss (lower is better)")
    loss_ax.set_title("Blend against single models")
    loss_ax.legend(loc="lower right")
    fig.suptitle(title or "Ensemble")
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_training_curves(histories: dict, path=None, title=None):
    """Train loss and validation log loss / accuracy per epoch, one line per fold.

    `histories` maps a fold name to the list of per-validation records a LoRA model keeps
    (epoch, train_loss, valid_log_loss, valid_accuracy).
    """
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for index, (fold, history) in enumerate(histories.items()):
        if not history:
            continue
        color = f"C{index % 10}"
        epochs = [record["epoch"] for record in history]
        loss_ax.plot(
            epochs, [record["train_loss"] for record in history], "--", color=color, marker="o", label=f"{fold} train"
        )
        if "valid_log_loss" in history[0]:
            loss_ax.plot(
                epochs,
                [record["valid_log_loss"] for record in history],
                "-",
                color=color,
                marker="o",
                label=f"{fold} valid",
            )
            acc_ax.plot(
                epochs, [record["valid_accuracy"] for record in history], "-", color=color, marker="o", label=str(fold)
            )
    loss_ax.axhline(UNIFORM_LOG_LOSS, color="red", linestyle=":", label=f"uniform ({UNIFORM_LOG_LOSS:.4f})")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("log loss")
    loss_ax.set_title("Training loss and validation log loss")
    loss_ax.legend(fontsize=8)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_title("Validation accuracy")
    if acc_ax.lines:
        acc_ax.legend(fontsize=8)
    fig.suptitle(title or "Training curves")
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_cascade_curve(curve: pd.DataFrame, path=None, title=None):
    """Out-of-fold log loss against the share of rows routed to each later cascade member, one panel each,
    with the estimated inference time on a second axis and the chosen share marked.

    `curve` is arenakit.ensemble.cascade_curve's table (columns model, share, log_loss, seconds,
    chosen, rows).
    """
    models = list(dict.fromkeys(curve["model"]))
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(6.5 * max(len(models), 1), 4.5), squeeze=False)
    hours = curve["seconds"].max() >= 2 * 3600
    unit, scale = ("h", 3600.0) if hours else ("min", 60.0)
    for ax, name in zip(axes[0], models):
        part = curve[curve["model"] == name].sort_values("share")
        share = 100 * part["share"]
        ax.plot(share, part["log_loss"], marker="o", color="tab:blue", label="OOF log loss (cross-fitted)")
        chosen = part[part["chosen"]]
        ax.plot(
            100 * chosen["share"],
            chosen["log_loss"],
            marker="*",
            markersize=16,
            color="tab:red",
            linestyle="none",
            label=f"chosen: {100 * chosen['share'].iloc[0]:.0f}%" if len(chosen) else "chosen",
        )
        ax.set_xlabel(f"share of rows routed to {name} (%)")
        ax.set_ylabel("out-of-fold log loss (lower is better)")
        ax.set_xlim(-3, 103)
        time_ax = ax.twinx()
        time_ax.plot(share, part["seconds"] / scale, color="tab:gray", linestyle="--", label="estimated time")
        for x, seconds in zip(share, part["seconds"]):
            time_ax.annotate(
                f"{seconds / scale:.1f}",
                (x, seconds / scale),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color="tab:gray",
            )
        time_ax.set_ylabel(f"estimated time, {int(part['rows'].iloc[0])} rows ({unit}, this machine)")
        time_ax.set_ylim(bottom=0)
        lines = ax.get_legend_handles_labels()[0] + time_ax.get_legend_handles_labels()[0]
        ax.legend(lines, [line.get_label() for line in lines], loc="best", fontsize=8)
        ax.set_title(f"Cascade: {name} on the least certain rows")
    fig.suptitle(title or "What the cascade buys: log loss and time by share routed")
    fig.tight_layout()
    _save(fig, path)
    return fig
