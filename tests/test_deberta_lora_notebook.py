"""The deberta_lora notebook under papermill with the tiny DeBERTa: artifacts, report, resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from arenakit.core.schema import CLASS_COLUMNS
from arenakit.data import load_competition
from arenakit.data.folds import load_folds
from arenakit.kaggle_build.runner import run_pipeline
from conftest import REPO_ROOT


def test_notebook_trains_chosen_folds_writes_the_contract_and_resumes(tiny_deberta_dir, synthetic_dir, tmp_path):
    out = tmp_path / "run"
    parameters = dict(
        backbone=str(tiny_deberta_dir),
        max_length=64,
        max_train_rows=80,
        epochs=2,
        batch_size=16,
        folds_to_train=[0, 2],
        n_folds=3,
        learning_rate=1e-3,
    )
    [result] = run_pipeline(
        REPO_ROOT / "notebooks", out, data_dir=synthetic_dir, names=["deberta_lora"], parameters=parameters
    )

    folder = out / "deberta_lora"
    train = load_competition(synthetic_dir).train
    folds = load_folds(out, train)
    oof = pd.read_csv(folder / "oof.csv")
    assert list(oof.columns) == ["id", *CLASS_COLUMNS]
    assert sorted(oof["id"]) == sorted(train["id"][np.isin(folds, [0, 2])])  # only the trained folds' rows
    assert len(pd.read_csv(folder / "test.csv")) == len(pd.read_csv(synthetic_dir / "test.csv"))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (
        metrics["folds_trained"] == [0, 2] and metrics["oof_rows"] == len(oof) and 0.9 < metrics["oof_log_loss"] < 1.3
    )
    assert [round(r["epoch"]) for r in metrics["training"]["fold 0"]] == [1, 2]
    assert "swap_asymmetry" in metrics
    assert sorted(p.name for p in (folder / "folds").iterdir()) == ["fold_0", "fold_2"]
    assert (folder / "folds" / "fold_2" / "adapter" / "adapter_model.safetensors").is_file()
    assert {"training_curves.png", "reliability.png", "confusion_matrix.png"} <= {
        p.name for p in (folder / "plots").iterdir()
    }
    assert result.report.read_text().count("<img") >= 4

    # A rerun reuses the finished folds instead of training them again.
    before = (folder / "folds" / "fold_0" / "adapter" / "adapter_model.safetensors").read_bytes()
    run_pipeline(REPO_ROOT / "notebooks", out, data_dir=synthetic_dir, names=["deberta_lora"], parameters=parameters)
    assert (folder / "folds" / "fold_0" / "adapter" / "adapter_model.safetensors").read_bytes() == before
    assert json.loads((folder / "metrics.json").read_text())["oof_log_loss"] == metrics["oof_log_loss"]
