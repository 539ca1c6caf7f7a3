"""arenakit.core.atomic: every artifact is written beside its place and renamed in, and every writer uses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenakit.core import atomic
from arenakit.core.atomic import recording_writes, write_csv, write_folder, write_json, write_npz, write_with
from conftest import REPO_ROOT


def test_each_writer_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    with recording_writes() as written:
        write_json(tmp_path / "a.json", {"x": 1})
        write_csv(tmp_path / "b.csv", pd.DataFrame({"id": [1, 2]}), index=False)
        write_npz(tmp_path / "c.npz", coef=np.arange(3.0))
        write_folder(tmp_path / "adapter", lambda folder: (folder / "weights.bin").write_bytes(b"new"))
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert pd.read_csv(tmp_path / "b.csv")["id"].tolist() == [1, 2]
    with np.load(tmp_path / "c.npz") as archive:  # no ".npz.npz": savez wrote to a file object
        assert archive["coef"].tolist() == [0.0, 1.0, 2.0]
    assert written == [tmp_path / name for name in ("a.json", "b.csv", "c.npz", "adapter/weights.bin")]
    # A folder written again replaces the old one entirely (no stale file survives beside the new ones).
    write_folder(tmp_path / "adapter", lambda folder: (folder / "config.json").write_text("{}"))
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "adapter", "b.csv", "c.npz"]


def test_a_failed_write_keeps_the_old_file_and_a_killed_ones_temporary_is_cleared(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"old": True})

    def half_then_fail(temporary: Path) -> None:
        temporary.write_text('{"new": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_with(path, half_then_fail)
    assert json.loads(path.read_text()) == {"old": True} and sorted(p.name for p in tmp_path.iterdir()) == [
        "metrics.json"
    ]
    # What a process killed before its rename leaves: the next write of that name removes it.
    (tmp_path / ".tmp-99999-metrics.json").write_text("half")
    write_json(path, {"new": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_the_commit_is_one_rename_after_the_data_is_complete(tmp_path, monkeypatch):
    """At the moment of the rename the temporary already holds all of the data (so a crash
    before it leaves the old file, and after it the whole new one)."""
    seen = []

    def commit(temporary: Path, path: Path) -> None:
        seen.append((temporary.parent == path.parent, temporary.read_text(), path.exists() and path.read_text()))
        original(temporary, path)

    original = atomic._commit
    monkeypatch.setattr(atomic, "_commit", commit)
    write_json(tmp_path / "blend.json", {"w": 1})
    write_json(tmp_path / "blend.json", {"w": 2})
    assert seen == [(True, '{"w": 1}', False), (True, '{"w": 2}', '{"w": 1}')]


# Writers that may bypass the helper: build outputs assembled in a staging folder renamed into place
# as a whole (kaggle_build), the synthetic sample's CSVs, the embedder's own atomic cache, the tiny
# test backbones, the GPU bench's random model in a scratch folder, and an error message that shows a user how to re-save a file.
_EXEMPT = {
    "lib/arenakit/data/csv_reading.py",
    "lib/arenakit/core/atomic.py",
    "lib/arenakit/data/synthetic/sample.py",
    "lib/arenakit/inputs/embedder.py",
    "lib/arenakit/inputs/backbones.py",
    "lib/arenakit/bench/tiny_decoder.py",
    "lib/arenakit/bench/decoder_gpu.py",
}
_WRITES = re.compile(
    r"\.write_text\(|\.write_bytes\(|\.to_csv\(|np\.savez|\.save_pretrained\(|torch\.save\(|json\.dump\(|\.save_model\(|save_file\("
)


def test_every_artifact_writer_goes_through_the_helper():
    offenders = []
    for path in sorted((REPO_ROOT / "lib" / "arenakit").rglob("*.py")):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if relative in _EXEMPT or relative.startswith("lib/arenakit/kaggle_build/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            # A write inside `lambda temporary: ...` is the helper's callback: it writes the temporary.
            if _WRITES.search(code) and "temporary" not in code:
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
