"""A damaged training checkpoint or fold record: what the kit does, and that its advice works.

- A truncated checkpoint.pt (a full disk, a partial copy) cannot be resumed from: the fold trains
  again from its first step, with a bold notice naming the file, which is kept aside.
- A truncated model.json in a finished fold: the error names the file and a remedy that works
  (delete that fold folder and rerun: only that fold is trained again), not "rerun what wrote it",
  which would load the same file and fail again.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from arenakit.core.errors import ArtifactError
from arenakit.data import load_competition
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.models import load_model
from arenakit.models.baseline import BaselineModel
from arenakit.models.lora.checkpoint import CHECKPOINT_FILE, read_checkpoint, write_checkpoint
from arenakit.pipeline.cv import cross_validate
from tiny_backbones import tiny_model


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_a_truncated_checkpoint_is_named_set_aside_and_not_resumed(tmp_path, capsys):
    path = tmp_path / CHECKPOINT_FILE
    write_checkpoint(path, {"fingerprint": "abc", "weights": {"w": torch.ones(64, 64)}})
    assert read_checkpoint(path, "abc")["weights"]["w"].shape == (64, 64)
    _truncate(path)
    damaged = tmp_path / f"{CHECKPOINT_FILE}.damaged"
    # Another process of a launched run reads it too: it restarts as well, and leaves the file to process 0.
    assert read_checkpoint(path, "abc", main_process=False) is None and path.is_file()
    assert capsys.readouterr().out == ""
    assert read_checkpoint(path, "abc") is None
    out = capsys.readouterr().out
    assert out.startswith(f"**{path} does not read (") and out.rstrip().endswith("**")
    assert f"it is moved to {damaged} and this fold trains again from its first step" in out
    assert not path.exists() and damaged.is_file()


def test_training_over_a_truncated_checkpoint_starts_the_fold_afresh(tiny_deberta_dir, synthetic_dir, tmp_path, capsys):
    rows, small = load_competition(synthetic_dir).train.iloc[:24], dict(max_length=32, max_train_rows=24)
    reference = tiny_model(tiny_deberta_dir, **small).fit(rows)
    # What a full disk leaves of a checkpoint: its first half.
    write_checkpoint(tmp_path / CHECKPOINT_FILE, {"fingerprint": "x", "weights": {"w": torch.ones(64, 64)}})
    _truncate(tmp_path / CHECKPOINT_FILE)
    again = tiny_model(tiny_deberta_dir, checkpoint_dir=str(tmp_path), **small).fit(rows)
    assert f"**{tmp_path / CHECKPOINT_FILE} does not read (" in capsys.readouterr().out
    assert len(again.history_) == len(reference.history_)
    for (name, a), (_, b) in zip(again.model_.named_parameters(), reference.model_.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)  # trained from the first step, as a fresh run
    assert (tmp_path / f"{CHECKPOINT_FILE}.damaged").is_file()
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["fingerprint"]  # a whole one replaced it


def test_a_truncated_model_json_advises_what_works(synthetic_dir, tmp_path):
    train = load_competition(synthetic_dir).train.iloc[:90].reset_index(drop=True)
    folds = assign_folds(train["label"].to_numpy(), prompt_groups(train), n_folds=3, seed=0)
    fold_dir = tmp_path / "baseline" / "folds"

    def run():
        return cross_validate(BaselineModel(C=1.0), train, folds, name="baseline", fold_dir=fold_dir, progress=False)

    first = run()
    record = fold_dir / "fold_1" / "model.json"
    _truncate(record)
    # Loading the fold (the ensemble, load_model) names the file and a remedy that works.
    with pytest.raises(ArtifactError) as error:
        load_model(fold_dir / "fold_1")
    message = str(error.value)
    assert message.startswith(f"{record}: not readable as a saved model's record (")
    assert f"delete {fold_dir / 'fold_1'} and rerun the model's notebook" in message
    assert "rerun what wrote it" not in message

    # The rerun it advises trains that fold alone again (its record no longer vouches for it) and
    # reuses the others as they are; deleting the folder first, as advised, ends the same way.
    kept = (fold_dir / "fold_0" / "baseline.npz").stat().st_mtime_ns
    again = run()
    assert (fold_dir / "fold_0" / "baseline.npz").stat().st_mtime_ns == kept
    np.testing.assert_allclose(again.oof, first.oof)
    shutil.rmtree(fold_dir / "fold_1")
    np.testing.assert_allclose(run().oof, first.oof)
    assert (fold_dir / "fold_0" / "baseline.npz").stat().st_mtime_ns == kept
