"""The submission: every trained model run on the current test.csv, blended with weights fitted out-of-fold.

    run = EnsembleRun(out_dir, load_competition(data_dir))   # finds and loads each model's folder
    run.plan_budget()                   # time each model on a slice, extrapolate, fall back when over budget
    run.fit_blend()                     # fitted blend, equal weights, best single model or cascade, by honest OOF scores
    run.predict_test()                  # the chosen models' fold models on test.csv (a cascade stage on its rows only)
    run.write_submission()              # blended, validated, written to <out_dir>/submission.csv

Two checks sit beside the run: arenakit.ensemble.benchmark (the time for n rows on this machine)
and arenakit.ensemble.consistency (these test predictions against those the training runs stored).

On Kaggle the notebook is re-run with the hidden test.csv (about 25,000 rows): predictions the
training runs stored for the 3 public rows are useless there, so inference always runs here.
A model trained on some folds only comes into the blend on the rows it predicted out-of-fold,
or is left out when those are fewer than MIN_PARTIAL_ROWS. Whatever goes wrong with
one model (missing folder, failed load, failed inference) leaves it out, in bold, and the others
carry on; with no usable model left the run fails with the reasons, and no submission.csv is left.

A cascade (arenakit.ensemble.cascade) is asked for with `cascade` ({"deberta_lora": 0.3}: that model on
the 30% of rows the cheaper ones are least sure of) or set by the time budget when a model does not
fit on every row; it is then one more candidate of the blend choice, and inference runs each later
stage only on the test rows routed to it. A stage may be a member's A/B-swapped pass
({"deberta_lora:swapped": 0.3}, arenakit.ensemble.swapped): swap TTA on the least certain rows only.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.artifacts import OOF_FILE, model_dir, save_metrics, save_predictions
from arenakit.core.atomic import write_csv, write_json
from arenakit.core.notices import notice
from arenakit.core.schema import CLASS_COLUMNS, N_CLASSES, SUBMISSION_FILE
from arenakit.core.settings import boolean, check_settings, integer, list_of, mapping, real, text
from arenakit.ensemble.budget import Timer, format_seconds, plan_within_budget, resolve_time_budget
from arenakit.ensemble.cascade import (
    Cascade,
    check_cascade,
    is_swapped,
    member_of,
    swapped_stage,
)
from arenakit.ensemble.choice import choose_blend
from arenakit.ensemble.members import check_inference, load_members, start_overrides
from arenakit.ensemble.run_cascade import CascadeStages
from arenakit.ensemble.swapped import one_order_inference, order_predictions, predict_swapped, swap_stage_problem
from arenakit.evaluation.submission import write_submission
from arenakit.models.protocol import configured
from arenakit.pipeline.notebooks import RUN_SETTINGS, SUBMISSION_NOTEBOOK, pipeline_models

BLEND_FILE = "blend.json"
COMPARISON_FILE = "comparison.csv"
# A model trained on some folds comes into the blend on its own out-of-fold rows, and needs enough
# of them for its weight to be judged. On the 999 real sample rows the per-row log-loss gain of
# adding a model to a blend has a standard deviation of about 0.12 (0.25 between two models), so
# over 150 rows its standard error is 0.010, as large as the gains at stake (equal weights beat the
# best single model by 0.003 there); with fewer rows the weight would follow noise. One fold of
# five is about 200 rows of the 999-row sample and 11,500 of the real train.csv.
MIN_PARTIAL_ROWS = 150
# Test rows each model is timed on before the full run. Their predictions are kept, so timing
# costs nothing, except when the budget's fallback re-times a model with other settings. A call's
# fixed cost counts as per-row time in the extrapolation: the baseline's (about 17 ms per feature
# pass, 4 passes with 2 folds) made its estimate for 25,000 rows 3x the measured time when timed
# on 64 rows, 1.6x on 256, 1.3x on 512. A transformer's per-row cost, which varies with row
# length, is averaged over more rows too.
TIMING_ROWS = 512


# The ensemble notebook's parameters (and EnsembleRun's), declared once (arenakit.core.settings).
ENSEMBLE_SETTINGS = {
    "data_dir": RUN_SETTINGS["data_dir"],
    "out_dir": RUN_SETTINGS["out_dir"],
    "models": list_of(text(), optional=True, none="every pipeline model"),
    "swap_average": boolean(optional=True, none="each model's own: its inference profile's, else as trained"),
    "inference": mapping(optional=True, none="every model as trained"),
    "cascade": mapping(optional=True, none="no cascade, unless the time budget needs one"),
    "time_budget_s": real(0, above=True, optional=True, none="9 h less a 1 h margin on Kaggle, unlimited locally"),
    "timing_rows": integer(1),
    "min_max_length": integer(1),
    "benchmark_rows": integer(1, optional=True, none="no benchmark"),
    "model_temperatures": boolean(),
    "blend_temperature": boolean(),
}


class NoUsableModel(RuntimeError):
    """Every model was left out: the message lists each one's reason."""


class EnsembleRun(CascadeStages):
    def __init__(
        self,
        out_dir: Path | str,
        competition,
        models=None,
        time_budget_s: float | None = None,
        swap_average: bool | None = True,
        inference: Mapping | None = None,
        cascade: Mapping | None = None,
    ):
        self.started = time.perf_counter()
        self.out_dir = Path(out_dir)
        self.competition = competition
        check_settings(
            {"time_budget_s": time_budget_s, "swap_average": swap_average, "models": models},
            ENSEMBLE_SETTINGS,
            "the ensemble's parameters",
        )
        self.budget_s = resolve_time_budget(time_budget_s)
        self.swap_average = swap_average
        self.notices: list[str] = []
        self.reasons: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.plan = self.timer = self.blend = self.choice = self.fit_rows = None
        self.not_blended: dict[str, str] = {}  # models that take part but could not be judged, and why
        self.blend_options: dict = {}
        self.test_proba: dict[str, np.ndarray] = {}
        self.submission_path = self.out_dir / SUBMISSION_FILE
        # A file left by an earlier run must never pass for this run's output.
        self.submission_path.unlink(missing_ok=True)
        names = list(models) if models else pipeline_models()
        self.inference = check_inference(inference, names)  # per model: a profile name or settings for its inference
        self.cascade = check_cascade(cascade, names)  # per later model: its share of the rows
        with self._timed("find and load models"):
            self.members, problems = load_members(names, self.out_dir, competition.train["id"])
        for name, reason in problems.items():
            self._leave_out(name, reason)
        self._check_any_left()
        # A swapped pass as a stage: its member runs one order, the stage adds the other where it routes.
        self.inference = one_order_inference(self.cascade, self.members, self.inference)
        start_overrides(self.members, self.swap_average, self.inference)  # a mistyped setting fails here, not hours in

    @contextmanager
    def _timed(self, what: str):
        started = time.perf_counter()
        yield
        self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - started

    @property
    def names(self) -> list[str]:
        return [member.name for member in self.members]

    @property
    def comparison(self) -> pd.DataFrame | None:
        """Every candidate blend's honest log loss on the same out-of-fold rows (None before fit_blend)."""
        return None if self.choice is None else self.choice.table

    def _leave_out(self, name: str, reason: str) -> None:
        for member in self.members:
            if member.name == name:
                member.release()
        self.reasons[name] = reason
        self.members = [member for member in self.members if member.name != name]
        others = ", ".join(self.names) or "no other model"
        fitted = "refitted" if self.blend is not None else "fitted"
        self.notices.append(
            notice(
                f"Left out {name}: {reason}. The ensemble goes on with {others}; "
                f"the blend weights are {fitted} on those alone."
            )
        )

    def _check_any_left(self) -> None:
        if not self.members:
            reasons = "\n".join(f"- {name}: {reason}" for name, reason in self.reasons.items())
            raise NoUsableModel(
                f"no usable model for the ensemble, so no submission was written:\n{reasons}\n"
                "Run the model notebooks first (python build.py run), or attach their outputs on Kaggle."
            )

    def members_table(self) -> pd.DataFrame:
        """The models found, where, how many train rows they predicted out-of-fold, and their score."""
        return pd.DataFrame([member.summary() for member in self.members]).set_index("model")

    def plan_budget(self, timing_rows: int = TIMING_ROWS, min_tokens: int = 256) -> pd.DataFrame:
        """Time each model on a slice of test.csv, extrapolate to all of it, fall back when over budget
        (min_tokens: the fallback never shortens a model's token cap below this)."""
        test = self.competition.test
        members = {member.name: member for member in self.members}
        self.timer = Timer(test, timing_rows)
        failed: dict[str, str] = {}

        def estimate(name: str, overrides: dict) -> float:
            try:
                return self.timer.time(members[name], overrides).estimate(len(test))
            except Exception as error:  # a model that cannot predict a slice is left out, not the run
                failed.setdefault(name, f"inference on a slice of test.csv failed: {type(error).__name__}: {error}")
                return math.inf

        start = start_overrides(self.members, self.swap_average, self.inference)
        with self._timed("time models on a slice"):
            for name in list(members):  # a model that fails here is left out before any planning
                estimate(name, start[name])
            self._leave_out_failed(failed)
            members = {name: members[name] for name in self.names}
            self.plan = plan_within_budget(
                {name: member.prototype for name, member in members.items()},
                estimate,
                max(0.0, self.budget_s - (time.perf_counter() - self.started)),
                {name: start[name] for name in members},
                min_tokens,
                timing=lambda name, overrides: self.timer.time(members[name], overrides),
                n_rows=len(test),
                shares=self.cascade,
                swappable={name for name, member in members.items() if swap_stage_problem(member) is None},
            )
        for step in self.plan.steps:
            self.notices.append(notice(step))
        for name in self.plan.dropped:
            members[name].release()
        self.members = [member for member in self.members if member.name in self.plan.kept]
        self._leave_out_failed(failed)
        print(
            f"estimated inference time for {len(test)} test rows: {format_seconds(self.plan.total_s)} "
            f"(time left in the budget: {format_seconds(self.plan.budget_s)}; each model timed on "
            f"{len(self.timer.timed_rows)} rows)"
        )
        return self.plan.table()

    def _leave_out_failed(self, failed: dict[str, str]) -> None:
        for name, reason in list(failed.items()):
            if name in self.names:
                self._leave_out(name, reason)
        self._check_any_left()

    def _oof_rows(self) -> tuple[pd.Index, np.ndarray, dict[str, np.ndarray]]:
        """The train ids the blend is fitted on (in train order), their labels and each model's OOF predictions.

        Those are the rows of the model that predicted the most (every row, unless all were trained on
        some folds only); a model that predicted fewer is NaN on the rest. One that predicted fewer
        than MIN_PARTIAL_ROWS of them stays out of the blend (in `not_blended`, with the reason).
        """
        train = self.competition.train
        train_ids = pd.Index(train["id"])
        widest = max(self.members, key=lambda member: len(member.oof))
        ids = train_ids[train_ids.isin(widest.oof.index)]
        self.not_blended = {}
        for member in self.members:
            covered = int(ids.isin(member.oof.index).sum())
            if covered < min(len(ids), MIN_PARTIAL_ROWS):
                folds = member.metrics.get("folds_trained")
                self.not_blended[member.name] = (
                    f"it predicted {covered} of the {len(ids)} train rows out-of-fold"
                    f"{f' (trained on folds {folds})' if folds is not None else ''}, fewer than "
                    f"{MIN_PARTIAL_ROWS}: too few to judge its weight. Train it on more folds or rows to blend it"
                )
                member.release()
        labels = train.set_index("id").loc[ids, "label"].to_numpy()
        oofs = {}
        for member in self.members:
            if member.name in self.not_blended:
                continue
            oofs[member.name] = member.oof.reindex(ids).to_numpy()
            if member.oof_orders is None or configured(member.prototype, self._settings(member.name)).swap_averaged:
                continue
            # Run one order at inference: fitted on its one-order predictions, the swapped pass a stage if planned.
            oofs[member.name], swapped = order_predictions(member, ids)
            if swapped_stage(member.name) in self._shares():
                oofs[swapped_stage(member.name)] = swapped
        return ids, labels, oofs

    def fit_blend(self, model_temperatures: bool = True, blend_temperature: bool = True) -> pd.DataFrame:
        """Fit the blend on out-of-fold rows, then choose it, equal weights or the best single model by honest scores.

        The table lists each candidate's log loss on the same rows (cross-fitted for the fitted
        blend), the rows behind it, and which was chosen; `run.choice.reason` says why.
        """
        self.blend_options = {"model_temperatures": model_temperatures, "blend_temperature": blend_temperature}
        with self._timed("fit the blend"):
            ids, y, oofs = self._oof_rows()
            self.fit_rows = (y, oofs)
            for name, reason in self.not_blended.items():
                shown = notice(f"Not in the blend: {name}: {reason}.")
                if shown not in self.notices:  # a refit after a failure says it again
                    self.notices.append(shown)
            rows = {name: int(np.isfinite(oof).all(axis=1).sum()) for name, oof in oofs.items()}
            partial = ", ".join(f"{name} on its {n}" for name, n in rows.items() if n < len(ids))
            print(
                f"blend fitted on {len(ids)} of {len(self.competition.train)} train rows, those predicted out-of-fold"
                + (f" ({partial}: a model trained on some folds comes in on its own rows)" if partial else "")
            )
            self.choice = choose_blend(y, oofs, cascade=self.cascade_spec(oofs), **self.blend_options)
            self.blend = self.choice.blend
        print(self.choice.reason)
        self._save_blend(ids)
        return self.choice.table

    def _save_blend(self, ids: pd.Index) -> None:
        folder = model_dir(self.out_dir, SUBMISSION_NOTEBOOK)
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            **self.blend.to_dict(),
            "chosen": self.choice.chosen,
            "reason": self.choice.reason,
            "fitted_blend": self.choice.fitted.to_dict(),
            "not_blended": self.not_blended,
            "options": self.blend_options,
            "cascade": self._cascade_record(),
        }
        write_json(folder / BLEND_FILE, record, indent=2)
        write_csv(folder / COMPARISON_FILE, self.choice.table)
        save_predictions(folder / OOF_FILE, ids.to_numpy(), self.choice.oof)

    def predict_test(self) -> pd.DataFrame:
        """The models the blend uses, on the whole test.csv with the planned settings, with seconds per model.

        A model that fails is left out and the blend refitted and chosen again on the others, which
        may call for a model that was not needed before: it is predicted then.
        """
        test = self.competition.test
        while True:
            # Predictions of some rows only (a cascade stage) serve no other blend: a refit predicts anew.
            self.test_proba = {name: p for name, p in self.test_proba.items() if np.isfinite(p).all()}
            needed = [name for name in self._stage_names() if name not in self.test_proba and self._uses(name)]
            if isinstance(self.blend, Cascade):  # stage by stage: a later one's rows follow from those before
                needed.sort(key=self.blend.names.index)
            members, failed = {member.name: member for member in self.members}, {}
            for position, name in enumerate(needed):
                member = members[member_of(name)]
                rows = (
                    self.blend.rows_for(name, self.test_proba, len(test)) if isinstance(self.blend, Cascade) else None
                )
                try:
                    with self._timed(f"inference: {name}"):
                        self.test_proba[name] = self._predict(
                            member, self._settings(name), test, rows, is_swapped(name)
                        )
                except Exception as error:  # one model's failure must not cost the submission
                    failed[member.name] = f"inference on test.csv failed: {type(error).__name__}: {error}"
                if member.name not in map(member_of, needed[position + 1 :]):
                    member.release()  # frees its memory (a GPU's) for the next model
            for name, reason in failed.items():
                self._leave_out(name, reason)
            self._check_any_left()
            if not failed or self.blend is None:
                break
            self.fit_blend(**self.blend_options)
        for member in self.members:
            member.release()  # a model the blend does not use holds memory for nothing
        return pd.DataFrame(
            [
                {
                    "model": name,
                    "test_rows": int(np.isfinite(self.test_proba[name]).all(axis=1).sum()),
                    "settings": ", ".join(f"{k}={v}" for k, v in self._settings(name).items()) or "as trained",
                    "seconds": self.seconds[f"inference: {name}"],
                }
                for name in self._stage_names()
                if name in self.test_proba
            ]
        ).set_index("model")

    def _uses(self, name: str) -> bool:
        return self.blend is None or name in self.blend.used

    def _settings(self, name: str) -> dict:
        """The settings a stage's model runs with (a swapped pass: its member's)."""
        name = member_of(name)
        if self.plan is not None:
            return self.plan.overrides[name]
        return start_overrides(self.members, self.swap_average, self.inference)[name]

    def _predict(
        self, member, overrides: dict, test: pd.DataFrame, rows: np.ndarray | None = None, swapped: bool = False
    ) -> np.ndarray:
        """The member's predictions for every test row (rows: those only; NaN elsewhere), of its swapped pass
        mapped back with `swapped`; rows predicted while timing are reused."""
        proba = np.full((len(test), N_CLASSES), np.nan)
        wanted = np.ones(len(test), dtype=bool) if rows is None else rows
        known = self.timer.reusable(member.name, overrides) if self.timer and not swapped else None
        if known is not None:
            proba[known[0]] = known[1]
        proba[~wanted] = np.nan  # a cascade stage's rows only, though the timing slice predicted others
        rest = np.flatnonzero(np.isnan(proba).any(axis=1) & wanted)
        if len(rest):
            ensemble, frame = member.load(**overrides), test.iloc[rest].reset_index(drop=True)
            proba[rest] = predict_swapped(ensemble, frame) if swapped else ensemble.predict_proba(frame)
        if not np.isfinite(proba[wanted]).all():
            raise ValueError(
                f"predict_proba gave {int((~np.isfinite(proba[wanted])).any(axis=1).sum())} rows with "
                f"non-finite values of {int(wanted.sum())}"
            )
        return proba

    def write_submission(self) -> pd.DataFrame:
        """Blend the test predictions, validate and write submission.csv (nothing is written when invalid)."""
        if self.blend is None or not self.test_proba:
            raise RuntimeError("nothing to write yet: call fit_blend() and predict_test() before write_submission()")
        with self._timed("blend and write submission"):
            proba = self.blend.predict(self.test_proba)
            frame = write_submission(
                proba, self.competition.test["id"], self.competition.sample_submission, self.submission_path
            )
            save_metrics(model_dir(self.out_dir, SUBMISSION_NOTEBOOK), self._metrics())
            if isinstance(self.blend, Cascade):  # blend.json gains the test rows each stage saw
                folder = model_dir(self.out_dir, SUBMISSION_NOTEBOOK)
                record = json.loads((folder / BLEND_FILE).read_text())
                write_json(folder / BLEND_FILE, {**record, "cascade": self._cascade_record()}, indent=2)
        print(f"wrote {self.submission_path} ({len(frame)} rows, {self.choice.chosen}: {', '.join(self.blend.used)})")
        return frame

    def _metrics(self) -> dict:
        return {
            "oof_log_loss": float(self.choice.table.loc[self.choice.chosen, "log_loss"]),
            "chosen": self.choice.chosen,
            "reason": self.choice.reason,
            "models": self.names,  # every model that took part: found, loaded and judged or not blended
            "submission_models": list(self.blend.used),
            "not_blended": self.not_blended,
            "blend": self.blend.to_dict(),
            "fitted_blend": self.choice.fitted.to_dict(),
            "left_out": self.reasons,
            "seconds": self.seconds,
            "comparison": json.loads(self.choice.table.to_json(orient="index")),  # NaN as null
            "cascade": self._cascade_record(),
        }

    def time_table(self) -> pd.DataFrame:
        """Where this notebook's time went, phase by phase."""
        table = pd.DataFrame({"seconds": self.seconds})
        table.loc["total (since the run started)"] = time.perf_counter() - self.started
        return table.round(2)

    def submission_head(self, n: int = 5) -> pd.DataFrame:
        return pd.read_csv(self.submission_path).head(n)[["id", *CLASS_COLUMNS]]
