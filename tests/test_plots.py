"""plots: each function draws what it says, saves a real PNG when asked and returns the figure."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from arenakit.core.schema import CLASS_NAMES  # noqa: E402
from arenakit.evaluation.metrics import evaluate, log_loss_by_length  # noqa: E402
from arenakit.evaluation.plots import (  # noqa: E402
    plot_confusion_matrix,
    plot_log_loss_by_length,
    plot_reliability,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    proba = rng.dirichlet([2.0, 2.0, 2.0], size=300)
    lengths = rng.integers(10, 5000, size=300)
    return y, proba, lengths


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_png(path):
    assert path.is_file()
    assert path.stat().st_size > 5000  # a blank or broken PNG is far smaller
    assert path.read_bytes()[:8] == PNG_MAGIC


def tick_labels(axis):
    return [label.get_text() for label in axis.get_ticklabels()]


def test_confusion_matrix(predictions, tmp_path):
    y, proba, _ = predictions
    path = tmp_path / "nested" / "dir" / "confusion.png"
    fig = plot_confusion_matrix(y, proba, path=path, title="fold 0")
    assert_png(path)
    ax = fig.axes[0]
    assert ax.get_title() == "fold 0"
    assert ax.get_xlabel() == "predicted (argmax)" and ax.get_ylabel() == "true"
    assert tick_labels(ax.xaxis) == list(CLASS_NAMES) == tick_labels(ax.yaxis)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9
    assert sum(int(t.split("\n")[0]) for t in texts) == len(y)
    pred = proba.argmax(axis=1)
    count_aa = int(((y == 0) & (pred == 0)).sum())
    share_aa = count_aa / (y == 0).sum()
    assert texts[0] == f"{count_aa}\n{share_aa:.0%}"


def test_confusion_matrix_without_path_and_with_absent_class():
    fig = plot_confusion_matrix([0, 1], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[-1] == "0\n0%"  # no tie rows: share shown as 0, not NaN
    assert "n=2" in fig.axes[0].get_title()


def test_reliability(predictions, tmp_path):
    y, proba, _ = predictions
    path = tmp_path / "reliability.png"
    fig = plot_reliability(y, proba, path=path, n_bins=5)
    assert_png(path)
    curve_ax, hist_ax = fig.axes
    assert curve_ax.get_ylabel() == "observed frequency"
    assert hist_ax.get_xlabel() == "predicted probability"
    lines = {line.get_label(): line for line in curve_ax.get_lines()}
    assert set(lines) == {"perfect", *CLASS_NAMES}
    for k, name in enumerate(CLASS_NAMES):
        x, observed = lines[name].get_data()
        assert 1 <= len(x) <= 5
        assert ((0 <= observed) & (observed <= 1)).all()
        p = proba[:, k]
        first_bin = p < 0.2
        if first_bin.any():
            assert x[0] == pytest.approx(p[first_bin].mean())
            assert observed[0] == pytest.approx((y[first_bin] == k).mean())
    assert len(hist_ax.patches) == 3


def test_reliability_skips_empty_bins_and_rejects_bad_bins():
    proba = np.array([[0.95, 0.025, 0.025]] * 4 + [[0.05, 0.9, 0.05]] * 4)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    fig = plot_reliability(y, proba, n_bins=10, title="two clusters")
    assert fig.axes[0].get_title() == "two clusters"
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    x, observed = lines["A"].get_data()
    assert list(np.round(x, 3)) == [0.05, 0.95]
    assert list(observed) == [0.0, 0.75]
    with pytest.raises(ValueError, match="n_bins"):
        plot_reliability(y, proba, n_bins=0)


def test_log_loss_by_length(predictions, tmp_path):
    y, proba, lengths = predictions
    table = log_loss_by_length(y, proba, lengths)
    path = tmp_path / "by_length.png"
    fig = plot_log_loss_by_length(table, path=path)
    assert_png(path)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "log loss"
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, table["log_loss"])
    labels = tick_labels(ax.xaxis)
    assert [label.split("\n")[0] for label in labels] == ["short", "medium", "long"]
    assert any(line.get_label().startswith("uniform (ln 3") for line in ax.get_lines())
    uniform = [line for line in ax.get_lines() if line.get_label().startswith("uniform")][0]
    assert uniform.get_ydata()[0] == pytest.approx(np.log(3))


def test_log_loss_by_length_from_metrics_json_with_empty_bucket():
    result = json.loads(json.dumps(evaluate([2], [[0.2, 0.3, 0.5]], lengths=[10])))
    fig = plot_log_loss_by_length(result["by_length"])
    labels = tick_labels(fig.axes[0].xaxis)
    assert labels[0] == "short\nn=0" and labels[1].startswith("medium\n10-10")
    with pytest.raises(ValueError, match="lacks columns"):
        plot_log_loss_by_length([{"bucket": "short"}])
