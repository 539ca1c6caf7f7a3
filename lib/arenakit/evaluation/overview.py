"""A first look at a competition folder: class balance, lengths, multi-turn share, odd rows."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from arenakit.core.schema import CLASS_NAMES
from arenakit.data.competition import Competition


def summary_table(competition: Competition) -> pd.DataFrame:
    """One row per split: sizes, multi-turn share, empty responses, median lengths."""
    rows = []
    for split, frame in (("train", competition.train), ("test", competition.test)):
        rows.append(
            {
                "split": split,
                "rows": len(frame),
                "multi_turn_share": float((frame["n_turns"] > 1).mean()) if len(frame) else 0.0,
                "null_responses": int(frame["null_response_a"].sum() + frame["null_response_b"].sum()),
                "median_prompt_chars": float(frame["prompt"].str.len().median()),
                "median_response_chars": float(
                    pd.concat([frame["response_a"], frame["response_b"]]).str.len().median()
                ),
                "parse_issues": sum(issue.file.startswith(split) for issue in competition.issues),
            }
        )
    return pd.DataFrame(rows).set_index("split")


def longer_response_win_rate(train: pd.DataFrame) -> float:
    """Share of decided rows (not ties) won by the longer response: the data's strongest cue."""
    length_a, length_b = train["response_a"].str.len(), train["response_b"].str.len()
    decided = (train["label"] != 2) & (length_a != length_b)
    longer_is_a = length_a > length_b
    return float(((train["label"] == 0) == longer_is_a)[decided].mean())


def plot_overview(train: pd.DataFrame, path: Path | str | None = None):
    """Class balance, response length distributions per winner, and the turn-count histogram."""
    fig, (ax_classes, ax_lengths, ax_turns) = plt.subplots(1, 3, figsize=(15, 4))
    counts = np.bincount(train["label"], minlength=len(CLASS_NAMES))
    ax_classes.bar(CLASS_NAMES, counts / counts.sum(), color=["tab:blue", "tab:orange", "tab:gray"])
    ax_classes.set(title="Class balance", ylabel="share of rows")

    length_a, length_b = train["response_a"].str.len().to_numpy(), train["response_b"].str.len().to_numpy()
    label = train["label"].to_numpy()
    bins = np.logspace(0, np.log10(max(length_a.max(), length_b.max(), 10) + 1), 40)
    decided = label != 2
    winner = np.where(label == 0, length_a, length_b)[decided]
    loser = np.where(label == 0, length_b, length_a)[decided]
    tied = np.concatenate([length_a[~decided], length_b[~decided]])
    for lengths, name in ((winner, "preferred response"), (loser, "other response"), (tied, "tie (both)")):
        weights = np.full(len(lengths), 1 / max(len(lengths), 1))
        ax_lengths.hist(lengths + 1, bins=bins, histtype="step", weights=weights, label=name)
    ax_lengths.set(xscale="log", title="Response length (chars + 1)", ylabel="share of responses")
    ax_lengths.legend()

    turns = train["n_turns"].clip(upper=6).value_counts().sort_index()
    ax_turns.bar([str(t) if t < 6 else "6+" for t in turns.index], turns.to_numpy())
    ax_turns.set(title="Turns per conversation", ylabel="rows")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig
