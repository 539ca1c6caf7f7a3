"""A model's save killed (SIGKILL) at each of its write points in turn, over a folder an earlier run saved.

    python tests/crash_worker.py DATA OUT    # OUT/reference_old, OUT/reference_new, OUT/kill_<n> for each point

It trains the baseline twice into reference folders: the old run (C=1.0) and the new one
(C=0.05), both cross-validated with fold_dir (each fold model saved as it is trained) and saved,
as the notebooks do. Then for n = 1, 2, ...: a copy of the old run, over which a forked child
runs the new run and kills itself just before the n-th write commits (the temporary file fully
written, the rename not yet done: every write before it done, none after). arenakit.core.atomic
commits every write through _commit (a rename) or _commit_removal (a delete), so patching those
two covers each write point of the save. The loop ends at the first n the child survives.

OUT/points.json: {"points": how many write points the save has, "killed": [n, ...]}.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

from arenakit.core import atomic
from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.models.baseline import BaselineModel
from arenakit.pipeline.cv import cross_validate

OLD, NEW = 1.0, 0.05


def train_and_save(competition, folds, run: Path, C: float) -> None:
    model = BaselineModel(C=C)
    cv = cross_validate(
        model,
        competition.train,
        folds,
        test=competition.test,
        name="baseline",
        progress=False,
        fold_dir=run / "baseline" / "folds",
    )
    cv.save(run, competition.train, competition.test)


def kill_at(point: int) -> None:
    """Make the point-th commit of this process its last act: SIGKILL, as a crash or an OOM kill would."""
    count = {"n": 0}

    def wrap(commit):
        def counted(*args):
            count["n"] += 1
            if count["n"] == point:
                os.kill(os.getpid(), signal.SIGKILL)
            return commit(*args)

        return counted

    atomic._commit = wrap(atomic._commit)
    atomic._commit_removal = wrap(atomic._commit_removal)


def main(data: Path, out: Path) -> None:
    competition = load_competition(data)
    old = out / "reference_old"
    folds = shared_folds(old, competition.train, n_folds=2, seed=0)
    train_and_save(competition, folds, old, OLD)
    new = out / "reference_new"
    shutil.copytree(old, new)
    train_and_save(competition, folds, new, NEW)
    killed, point = [], 1
    while True:
        target = out / f"kill_{point}"
        shutil.copytree(old, target)
        child = os.fork()
        if child == 0:
            kill_at(point)
            train_and_save(competition, folds, target, NEW)
            os._exit(0)
        _, status = os.waitpid(child, 0)
        if not os.WIFSIGNALED(status):
            assert os.WEXITSTATUS(status) == 0, f"the save of kill_{point} failed"
            break
        assert os.WTERMSIG(status) == signal.SIGKILL
        killed.append(point)
        point += 1
    (out / "points.json").write_text(json.dumps({"points": len(killed), "killed": killed}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
