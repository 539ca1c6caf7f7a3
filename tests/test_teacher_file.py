"""Teacher files (issue 22): the format checked row by row, and `python -m arenakit.train teacher-predictions`
writing one set per fold from a run whose values are the fold models' own predictions.

A baseline run (3 folds on 60 synthetic rows) stands in for a teacher: what is tested is the
command and the file, which treat every kit model alike.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arenakit.core.schema import CLASS_COLUMNS
from arenakit.data import (
    TeacherFileError,
    load_competition,
    read_extra_data,
    read_teacher_file,
    teacher_file_is_oof_only,
    write_teacher_file,
)
from arenakit.data.folds import load_folds, shared_folds
from arenakit.data.synthetic import write_sample
from arenakit.models.base import load_model
from arenakit.models.baseline import BaselineModel
from arenakit.pipeline.cv import cross_validate
from arenakit.train.__main__ import main

HEADER = "id,fold,winner_model_a,winner_model_b,winner_tie"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(run folder with a trained "teacher" baseline, its data folder, a pairwise extra-data file)."""
    root = tmp_path_factory.mktemp("teacher-run")
    data_dir = write_sample(root / "data", n_train=60, n_test=6, seed=11)
    competition = load_competition(data_dir)
    folds = shared_folds(root / "run", competition.train, n_folds=3, seed=0)
    cv = cross_validate(
        BaselineModel(), competition.train, folds, test=competition.test, name="teacher", progress=False
    )
    cv.save(root / "run", competition.train, competition.test)
    extra = root / "pairs.csv"
    pd.DataFrame(
        {
            "prompt": ["extra one", "extra two"],
            "response_a": ["short", "a longer answer"],
            "response_b": ["x" * 80, "b"],
        }
    ).to_csv(extra, index=False)
    return root / "run", data_dir, extra


def test_teacher_predictions_writes_every_fold_models_predictions_on_train_and_extra_rows(run, tmp_path, capsys):
    run_dir, data_dir, extra_file = run
    out = tmp_path / "teacher.csv"
    argv = ["teacher-predictions", "--run-dir", str(run_dir), "--model", "teacher", "--data-dir", str(data_dir)]
    assert main([*argv, "--extra-data", str(extra_file), "--out", str(out)]) == 0
    assert "teacher file" in capsys.readouterr().out
    teacher = read_teacher_file(out)
    competition = load_competition(data_dir)
    extra, _ = read_extra_data([extra_file], competition.train, competition.test)
    rows = pd.concat([competition.train, extra[list(competition.train.columns)]], ignore_index=True)
    assert teacher.groupby("fold").size().to_dict() == {0: 62, 1: 62, 2: 62}
    assert not teacher_file_is_oof_only(teacher)
    for fold in range(3):
        mine = teacher[teacher["fold"] == fold]
        assert mine["id"].tolist() == rows["id"].tolist()
        expected = load_model(run_dir / "teacher" / "folds" / f"fold_{fold}").predict_proba(rows)
        np.testing.assert_allclose(mine[list(CLASS_COLUMNS)].to_numpy(), expected, rtol=1e-6)
    # Each train row's prediction by the fold that held it out is its out-of-fold prediction.
    folds = load_folds(run_dir, competition.train)
    oof = pd.read_csv(run_dir / "teacher" / "oof.csv").set_index("id")
    held_out = teacher.merge(pd.DataFrame({"id": competition.train["id"], "fold": folds}), on=["id", "fold"])
    assert len(held_out) == 60 and teacher_file_is_oof_only(held_out)
    np.testing.assert_allclose(held_out[list(CLASS_COLUMNS)].to_numpy(), oof.loc[held_out["id"]].to_numpy(), rtol=1e-6)


def test_teacher_predictions_refuses_a_training_setting_a_missing_fold_and_other_data(run, tmp_path, capsys):
    run_dir, data_dir, _ = run
    argv = ["teacher-predictions", "--run-dir", str(run_dir), "--model", "teacher", "--out", str(tmp_path / "t.csv")]
    assert main([*argv, "--data-dir", str(data_dir), "-p", "C=3.0"]) == 1
    assert (
        "-p C: not an inference setting of BaselineModel; the ones a saved model takes anew are"
        in capsys.readouterr().err
    )
    assert main([*argv, "--folds", "4"]) == 1
    assert "folds [4] were asked for; its saved fold models are folds [0, 1, 2]" in capsys.readouterr().err
    assert main([*argv[:3], "--model", "nothing", "--out", str(tmp_path / "t.csv")]) == 1
    assert "not a trained model folder" in capsys.readouterr().err
    other_data = write_sample(tmp_path / "other", n_train=30, n_test=3, seed=2)
    assert main([*argv, "--data-dir", str(other_data)]) == 1
    assert "folds.csv was made for other rows than the 30 of" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_write_and_read_back_and_an_oof_only_file_is_recognised(tmp_path):
    frame = pd.DataFrame({"id": [5, 5, 9, 9], "fold": [0, 1, 0, 1]})
    for column, value in zip(CLASS_COLUMNS, (0.5, 0.3, 0.2)):
        frame[column] = value
    path = write_teacher_file(frame, tmp_path / "sub" / "teacher.csv")
    back = read_teacher_file(path)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert back["id"].dtype == np.int64 and back["fold"].dtype == np.int64
    assert not teacher_file_is_oof_only(back) and teacher_file_is_oof_only(back[back["fold"] == 0])
    assert not list(tmp_path.glob("sub/.tmp*"))  # atomic: no temporary left beside it


def test_every_bad_row_is_listed_by_line_and_id(tmp_path):
    lines = [
        "1,0,0.5,0.3,0.2",  # line 2: fine
        "x,0,0.5,0.3,0.2",  # line 3: id not an integer
        "3,-1,0.5,0.3,0.2",  # line 4: negative fold
        "4,0,0.5,,0.5",  # line 5: missing probability
        "5,0,0.5,0.5,0.5",  # line 6: does not sum to 1
        "6,0,1.5,-0.5,0",  # line 7: outside [0, 1]
        "1,0,0.4,0.4,0.2",  # line 8: (id 1, fold 0) again
        "7,1.5,0.5,0.3,0.2",  # line 9: fraction fold
    ]
    path = tmp_path / "teacher.csv"
    path.write_text("\n".join([HEADER, *lines, ""]), encoding="utf-8")
    with pytest.raises(
        TeacherFileError, match=r"teacher.csv: 8 bad row\(s\) of 8: line 2 \(id 1\): the same"
    ) as caught:
        read_teacher_file(path)
    bad = caught.value.bad_rows
    assert bad["line"].tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert bad["id"].tolist() == ["1", "x", "3", "4", "5", "6", "1", "7"]
    problems = dict(zip(bad["line"], bad["problem"]))
    assert problems[3] == "id is not an integer" and problems[4] == problems[9] == "fold is not a whole number from 0"
    assert problems[5] == "a probability is missing (empty or NaN)"
    assert problems[6].startswith("probabilities do not sum to 1") and problems[7] == "probabilities lie outside [0, 1]"
    assert problems[8] == "the same (id, fold) appears on several lines"
    assert "and 3 more (TeacherFileError.bad_rows lists them all)" in str(caught.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,fold,winner_model_a,winner_model_b\n1,0,0.5,0.5\n", r"missing column\(s\) winner_tie"),
        (HEADER + "\n", "no prediction row follows"),
    ],
)
def test_a_file_without_the_columns_or_rows_is_refused(tmp_path, text, message):
    path = tmp_path / "teacher.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TeacherFileError, match=message):
        read_teacher_file(path)
    with pytest.raises(TeacherFileError, match="no such teacher file"):
        read_teacher_file(tmp_path / "absent.csv")


def test_metrics_json_of_the_teacher_run_names_its_folds(run):
    # The command trusts the run's record of its folds: checked here so a change there is seen.
    assert json.loads((run[0] / "teacher" / "metrics.json").read_text())["folds_trained"] == [0, 1, 2]
