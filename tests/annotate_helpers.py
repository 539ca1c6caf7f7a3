"""Small competition folders whose responses tell the judge stub how to answer (tests/judge_stub.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from arenakit.data.taxonomy import load_taxonomy


def stub_properties() -> dict:
    """The default taxonomy's properties and kinds, as the stub rates them."""
    return {p.name: p.kind for p in load_taxonomy().properties}


def _cell(*turns: str) -> str:
    return json.dumps(list(turns))


def write_folder(folder: Path, train_pairs: list[tuple[str, str, str]], test_pairs: list[tuple[str, str, str]]) -> Path:
    """train.csv, test.csv and sample_submission.csv from (prompt, response_a, response_b) triples."""
    folder.mkdir(parents=True, exist_ok=True)
    train = pd.DataFrame(
        {
            "id": range(1, len(train_pairs) + 1),
            "model_a": "m1",
            "model_b": "m2",
            "prompt": [_cell(p) for p, _, _ in train_pairs],
            "response_a": [_cell(a) for _, a, _ in train_pairs],
            "response_b": [_cell(b) for _, _, b in train_pairs],
            "winner_model_a": [1, 0, 0, 1][: len(train_pairs)] + [1] * max(0, len(train_pairs) - 4),
            "winner_model_b": [0, 1, 0, 0][: len(train_pairs)] + [0] * max(0, len(train_pairs) - 4),
            "winner_tie": [0, 0, 1, 0][: len(train_pairs)] + [0] * max(0, len(train_pairs) - 4),
        }
    )
    test = pd.DataFrame(
        {
            "id": range(1000, 1000 + len(test_pairs)),
            "prompt": [_cell(p) for p, _, _ in test_pairs],
            "response_a": [_cell(a) for _, a, _ in test_pairs],
            "response_b": [_cell(b) for _, _, b in test_pairs],
        }
    )
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    sample = pd.DataFrame({"id": test["id"], "winner_model_a": 1 / 3, "winner_model_b": 1 / 3, "winner_tie": 1 / 3})
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
