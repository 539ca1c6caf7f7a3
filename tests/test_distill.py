"""Distillation (issue 22), proven on planted signals: a student learns from a teacher what noisy labels hide.

Labels are noisy flips of a clean rule (the longer response wins; tests/distill_data.py); the
teacher's probabilities carry the rule. Scored against the noisy labels, the distilled student must
beat the same student on labels alone. Then the leak: a memorising teacher given as OOF-only (one
prediction per row, from the fold that held it out) carries fold k's labels into student fold k,
whose OOF then reads better than with the honest per-fold teacher, and a bold notice says so.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arenakit.core.schema import TEACHER_COLUMNS, UNLABELLED, WEIGHT_COLUMN
from arenakit.data.competition import load_competition, swap_ab
from arenakit.data.folds import assign_folds, prompt_groups
from arenakit.data.teacher_file import write_teacher_file
from arenakit.ensemble import write_ensemble_teacher
from arenakit.ensemble.blend import apply_temperature
from arenakit.models import load_model
from arenakit.models.baseline import BaselineModel
from arenakit.models.distill import class_weights, fit_targets
from arenakit.models.minilm_lgbm import MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate
from arenakit.pipeline.teachers import OOF_ONLY, PER_FOLD, Teacher, load_teacher
from distill_data import (
    flip_labels,
    length_rule_rows,
    memorising_teacher,
    oof_only_file,
    per_fold_file,
    rule_teacher,
    write_competition,
)

FLIP_RATE = 0.4
N_ROWS = 150
# LightGBM in few rounds (the test's budget), and able to single out a pair of twin rows (their lengths):
# what a memorising teacher leaks through.
FAST = {"learning_rate": 0.1, "max_rounds": 300, "early_stopping_rounds": 20}
SMALL_LEAVES = {**FAST, "min_child_samples": 2, "num_leaves": 31}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """150 rows in twin pairs, labels flipped at 40%, the run's 3 folds; the rule's and a memorising teacher's files."""
    root = tmp_path_factory.mktemp("distill")
    raw, clean = length_rule_rows(N_ROWS, seed=0, twins=True)
    train = load_competition(write_competition(root / "data", flip_labels(raw, clean, FLIP_RATE, seed=1))).train
    folds = assign_folds(train["label"].to_numpy(), prompt_groups(train), n_folds=3, seed=0)
    ids = train["id"].to_numpy()
    rule = {fold: rule_teacher(clean, FLIP_RATE) for fold in range(3)}
    memorised = memorising_teacher(train["label"].to_numpy(), folds)
    files = {
        "rule": per_fold_file(ids, rule),
        "per_fold": per_fold_file(ids, memorised),
        "oof_only": oof_only_file(ids, folds, memorised),
    }
    for name, frame in files.items():
        write_teacher_file(frame, root / f"{name}.csv")
    return {"root": root, "train": train, "folds": folds, "clean": clean}


def oof(model, planted, teacher=None, **kwargs) -> float:
    run = cross_validate(model, planted["train"], planted["folds"], teacher=teacher, progress=False, **kwargs)
    return run.metrics["oof_log_loss"], run


def test_the_distilled_lightgbm_and_baseline_beat_the_same_models_on_labels_alone(planted, tmp_path):
    teacher = load_teacher(str(planted["root"] / "rule.csv"), tmp_path, planted["train"])
    assert (teacher.source, teacher.scheme) == ("file", PER_FOLD)
    scores = {}
    for name, make in (("lightgbm", lambda **k: MiniLMLightGBMModel(**FAST, **k)), ("baseline", BaselineModel)):
        alone, _ = oof(make(), planted)
        distilled, run = oof(make(distill_weight=0.9), planted, teacher, fold_dir=tmp_path / name / "folds")
        scores[name] = (alone, distilled)
        assert run.metrics["teacher"] == {
            "name": "rule",
            "source": "file",
            "fold_scheme": PER_FOLD,
            "distill_weight": 0.9,
            "distill_temperature": 1.0,
        }
        saved = json.loads((tmp_path / name / "folds" / "fold_0" / "model.json").read_text())
        assert saved["teacher"] == run.metrics["teacher"]
    print({name: f"labels alone {a:.4f}, distilled {d:.4f}" for name, (a, d) in scores.items()})
    assert scores["lightgbm"][1] < scores["lightgbm"][0] - 0.04
    assert scores["baseline"][1] < scores["baseline"][0] - 0.02


def test_an_oof_only_teacher_reads_optimistic_and_says_so(planted, tmp_path, capsys):
    honest = load_teacher(str(planted["root"] / "per_fold.csv"), tmp_path, planted["train"])
    leaky = load_teacher(str(planted["root"] / "oof_only.csv"), tmp_path, planted["train"])
    assert (honest.scheme, leaky.scheme) == (PER_FOLD, OOF_ONLY)
    student = MiniLMLightGBMModel(distill_weight=1.0, **SMALL_LEAVES)
    honest_score, _ = oof(student, planted, honest)
    assert "READS OPTIMISTIC" not in capsys.readouterr().out
    leaky_score, run = oof(student, planted, leaky)
    shown = capsys.readouterr().out
    print(f"student OOF: per-fold teacher {honest_score:.4f}, OOF-only teacher {leaky_score:.4f}")
    assert "**Teacher oof_only gives one prediction per row" in shown and "READS OPTIMISTIC" in shown
    assert run.metrics["teacher"]["fold_scheme"] == OOF_ONLY and "READS OPTIMISTIC" in run.metrics["notices"][0]
    assert leaky_score < honest_score - 0.1


def test_a_fold_is_retrained_when_its_teacher_changes(planted, tmp_path):
    model, fold_dir = BaselineModel(C=0.1), tmp_path / "folds"
    rule = load_teacher(str(planted["root"] / "rule.csv"), tmp_path, planted["train"])
    memorised = load_teacher(str(planted["root"] / "per_fold.csv"), tmp_path, planted["train"])
    _, first = oof(model, planted, rule, fold_dir=fold_dir, only_folds=[0])
    _, again = oof(model, planted, rule, fold_dir=fold_dir, only_folds=[0])
    _, other = oof(model, planted, memorised, fold_dir=fold_dir, only_folds=[0])
    np.testing.assert_array_equal(first.ensemble.models[0].coef_, again.ensemble.models[0].coef_)
    # The reused fold was loaded, not trained: saved again, it keeps its teacher's record.
    again.ensemble.save(tmp_path / "resaved")
    assert json.loads((tmp_path / "resaved" / "fold_0" / "model.json").read_text())["teacher"]["name"] == "rule"
    assert not np.allclose(first.ensemble.models[0].coef_, other.ensemble.models[0].coef_)


def test_extra_rows_train_only_and_unlabelled_ones_need_a_teacher(planted, tmp_path):
    train, folds = planted["train"], planted["folds"]
    extra = train.iloc[:30].assign(id=-np.arange(1, 31), label=UNLABELLED, **{WEIGHT_COLUMN: 0.5})
    with pytest.raises(ValueError, match=r"30 unlabelled row\(s\).*row id\(s\) -1, -2"):
        cross_validate(BaselineModel(C=0.1), train, folds, extra=extra, progress=False)
    teacher = Teacher("rule", "file", pd.read_csv(planted["root"] / "rule.csv"))
    extra_teacher = Teacher(
        "rule",
        "file",
        pd.concat(
            [
                teacher.predictions,
                *[teacher.predictions.iloc[:30].assign(id=extra["id"].to_numpy(), fold=k) for k in range(3)],
            ]
        ),
    )
    run = cross_validate(BaselineModel(C=0.1), train, folds, teacher=extra_teacher, extra=extra, progress=False)
    assert run.metrics["extra_rows"] == 30 and run.metrics["oof_rows"] == len(train)
    assert len(run.oof) == len(train)  # extra rows are never predicted out-of-fold
    fold_0_only = Teacher("rule", "file", teacher.predictions[teacher.predictions["fold"] == 0])
    with pytest.raises(ValueError, match=r"teacher rule has no predictions for fold\(s\) 1, 2 \(it has 0\)"):
        cross_validate(BaselineModel(C=0.1), train, folds, teacher=fold_0_only, progress=False)


def test_soft_targets_swap_with_the_rows_and_weigh_each_class(planted):
    frame = (
        planted["train"]
        .iloc[:3]
        .assign(
            label=[0, 1, UNLABELLED],
            teacher_a=[0.6, np.nan, 0.2],
            teacher_b=[0.3, np.nan, 0.7],
            teacher_tie=[0.1, np.nan, 0.1],
            **{WEIGHT_COLUMN: [1.0, 2.0, 0.5]},
        )
    )
    targets = fit_targets(frame)
    # Labelled with a teacher: half one-hot, half teacher; no teacher: the label; unlabelled: the teacher; x weight.
    np.testing.assert_allclose(
        class_weights(targets, distill_weight=0.5, temperature=1.0), [[0.8, 0.15, 0.05], [0, 2, 0], [0.1, 0.35, 0.05]]
    )
    swapped = targets.with_swaps(interleave=True)
    np.testing.assert_array_equal(swapped.labels, [0, 1, 1, 0, UNLABELLED, UNLABELLED])
    np.testing.assert_allclose(swapped.teacher[1], [0.3, 0.6, 0.1])
    np.testing.assert_allclose(swap_ab(frame)[list(TEACHER_COLUMNS)].iloc[0], [0.3, 0.6, 0.1])
    with pytest.raises(ValueError, match="not a distribution.*row id"):
        fit_targets(frame.assign(teacher_a=[0.9, np.nan, 0.2]))


def test_the_ensemble_teaches_per_fold_with_its_blend(planted, tmp_path):
    train, folds = planted["train"], planted["folds"]
    for name, C in (("baseline", 0.01), ("minilm_lgbm", 1.0)):  # two members (both baselines, to stay cheap)
        run = cross_validate(BaselineModel(C=C), train, folds, name=name, progress=False)
        run.save(tmp_path, train)
    blend = {
        "models": {
            "baseline": {"weight": 0.25, "temperature": 1.0},
            "minilm_lgbm": {"weight": 0.75, "temperature": 2.0},
        }
    }
    (tmp_path / "ensemble").mkdir()
    (tmp_path / "ensemble" / "blend.json").write_text(json.dumps({**blend, "blend_temperature": 1.0}))
    write_ensemble_teacher(tmp_path, train)
    teacher = load_teacher("ensemble", tmp_path, train)
    assert (teacher.source, teacher.scheme) == ("ensemble", PER_FOLD)
    # Teacher fold 1 on a row: the blend of the two members' fold-1 models, each at its temperature.
    first = train.iloc[:5]
    members = {name: load_model(tmp_path / name / "folds" / "fold_1").predict_proba(first) for name in blend["models"]}
    expected = 0.25 * members["baseline"] + 0.75 * apply_temperature(members["minilm_lgbm"], 2.0)
    np.testing.assert_allclose(teacher.for_fold(1, first["id"]), expected, atol=1e-6)
    student = cross_validate(BaselineModel(C=0.1), train, folds, teacher=teacher, progress=False)
    assert student.metrics["teacher"]["name"] == "ensemble"
    # A model of the run as teacher: its fold models predict, once; a second load reads the cache.
    model_teacher = load_teacher("baseline", tmp_path, train)
    assert (model_teacher.source, model_teacher.scheme) == ("model", PER_FOLD)
    np.testing.assert_allclose(model_teacher.for_fold(1, first["id"]), members["baseline"], atol=1e-6)
    (cached,) = (tmp_path / "teachers").iterdir()
    again = load_teacher("baseline", tmp_path, train)
    pd.testing.assert_frame_equal(again.predictions, model_teacher.predictions, check_dtype=False, atol=1e-7)
    assert cached.stat().st_mtime_ns == next((tmp_path / "teachers").iterdir()).stat().st_mtime_ns
