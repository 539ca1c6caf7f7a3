"""The submission: every trained model run on the current test.csv, blended with weights fitted out-of-fold.

    run = EnsembleRun(out_dir, load_competition(data_dir))   # finds and loads each model's folder
    run.plan_budget(timing_rows=64)     # time each model on a slice, extrapolate, fall back when over budget
    run.fit_blend()                     # weights and temperatures on the rows every model predicted out-of-fold
    run.predict_test()                  # each model's fold models on test.csv; a failing model is left out
    run.write_submission()              # blended, validated, written to <out_dir>/submission.csv

On Kaggle the notebook is re-run with the hidden test.csv (about 25,000 rows): predictions the
training runs stored for the 3 public rows are useless there, so inference always runs here, and
the stored ones only serve as a consistency check when the ids match. Whatever goes wrong with
one model (missing folder, failed load, failed inference) leaves it out, in bold, and the others
carry on; with no usable model left the run fails with the reasons, and no submission.csv is left.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.artifacts import OOF_FILE, TEST_FILE, load_prediction_frame, model_dir, save_metrics, save_predictions
from arenakit.ensemble.blend import compare_blends, fit_blend
from arenakit.ensemble.budget import Timer, format_seconds, plan_within_budget, resolve_time_budget
from arenakit.ensemble.members import load_members
from arenakit.notices import notice
from arenakit.pipeline import SUBMISSION_NOTEBOOK, pipeline_models
from arenakit.schema import CLASS_COLUMNS, N_CLASSES, SUBMISSION_FILE
from arenakit.submission import write_submission

BLEND_FILE = "blend.json"
COMPARISON_FILE = "comparison.csv"


class NoUsableModel(RuntimeError):
    """Every model was left out: the message lists each one's reason."""


class EnsembleRun:
    def __init__(
        self,
        out_dir: Path | str,
        competition,
        models=None,
        time_budget_s: float | None = None,
        swap_average: bool = True,
    ):
        self.started = time.perf_counter()
        self.out_dir = Path(out_dir)
        self.competition = competition
        self.budget_s = resolve_time_budget(time_budget_s)
        self.swap_average = swap_average
        self.notices: list[str] = []
        self.reasons: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.plan = self.timer = self.blend = self.comparison = None
        self.blend_options: dict = {}
        self.test_proba: dict[str, np.ndarray] = {}
        self.submission_path = self.out_dir / SUBMISSION_FILE
        # A file left by an earlier run must never pass for this run's output.
        self.submission_path.unlink(missing_ok=True)
        names = list(models) if models else pipeline_models()
        with self._timed("find and load models"):
            self.members, problems = load_members(names, self.out_dir, competition.train["id"])
        for name, reason in problems.items():
            self._leave_out(name, reason)
        self._check_any_left()

    @contextmanager
    def _timed(self, what: str):
        started = time.perf_counter()
        yield
        self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - started

    @property
    def names(self) -> list[str]:
        return [member.name for member in self.members]

    def _leave_out(self, name: str, reason: str) -> None:
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

    def _start_overrides(self) -> dict[str, dict]:
        return {
            m.name: ({"swap_average": self.swap_average} if "swap_average" in m.params else {}) for m in self.members
        }

    def plan_budget(self, timing_rows: int = 64, min_max_length: int = 256) -> pd.DataFrame:
        """Time each model on a slice of test.csv, extrapolate to all of it, fall back when over budget."""
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

        start = self._start_overrides()
        with self._timed("time models on a slice"):
            for name in list(members):  # a model that fails here is left out before any planning
                estimate(name, start[name])
            self._leave_out_failed(failed)
            members = {name: members[name] for name in self.names}
            self.plan = plan_within_budget(
                {name: member.params for name, member in members.items()},
                estimate,
                max(0.0, self.budget_s - (time.perf_counter() - self.started)),
                {name: start[name] for name in members},
                min_max_length,
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
                next(m for m in self.members if m.name == name).release()
                self._leave_out(name, reason)
        self._check_any_left()

    def benchmark(self, n_rows: int = 25_000, timing_rows: int = 64) -> pd.DataFrame:
        """Estimated seconds per model for n_rows test rows on this machine, timed on train rows (real text)."""
        rows = self.competition.train[list(self.competition.test.columns)]
        timer = Timer(rows, timing_rows, fresh_cache=True)
        overrides = self._start_overrides()
        table = []
        with self._timed("benchmark"):
            for member in self.members:
                timing = timer.time(member, overrides[member.name])
                table.append(
                    {
                        "model": member.name,
                        "load_s": timing.load_s,
                        "ms_per_row": 1000 * timing.per_row_s,
                        f"estimate_s_{n_rows}": timing.estimate(n_rows),
                        "estimate": format_seconds(timing.estimate(n_rows)),
                    }
                )
        table = pd.DataFrame(table).set_index("model")
        total = table[f"estimate_s_{n_rows}"].sum()
        print(
            f"benchmark: {n_rows} test rows would take about {format_seconds(total)} on this machine "
            f"(each model timed on {len(timer.timed_rows)} train rows with an empty cache; Kaggle allows 9 h)"
        )
        return table

    def _oof_rows(self) -> tuple[pd.Index, np.ndarray, dict[str, np.ndarray]]:
        """The train ids every member predicted out-of-fold (in train order), their labels and predictions."""
        train = self.competition.train
        common = pd.Index(train["id"])
        for member in self.members:
            common = common.intersection(member.oof.index, sort=False)
        labels = train.set_index("id").loc[common, "label"].to_numpy()
        return common, labels, {m.name: m.oof.loc[common].to_numpy() for m in self.members}

    def fit_blend(self, model_temperatures: bool = True, blend_temperature: bool = True) -> pd.DataFrame:
        """Fit the blend on out-of-fold rows shared by every model; the table compares it with the singles."""
        self.blend_options = {"model_temperatures": model_temperatures, "blend_temperature": blend_temperature}
        with self._timed("fit the blend"):
            ids, y, oofs = self._oof_rows()
            if len(ids) == 0:
                raise NoUsableModel(
                    f"the models {', '.join(self.names)} share no out-of-fold train row: their "
                    "folders come from different data. Re-run them on the same data folder."
                )
            coverage = ", ".join(f"{m.name} {len(m.oof)}" for m in self.members)
            print(
                f"blend fitted on {len(ids)} of {len(self.competition.train)} train rows, those every model "
                f"predicted out-of-fold (rows per model: {coverage})"
            )
            self.blend = fit_blend(y, oofs, **self.blend_options)
            self.comparison = compare_blends(y, oofs, self.blend, **self.blend_options)
        self._save_blend(ids, oofs)
        return self.comparison

    def _save_blend(self, ids: pd.Index, oofs: dict[str, np.ndarray]) -> None:
        folder = model_dir(self.out_dir, SUBMISSION_NOTEBOOK)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / BLEND_FILE).write_text(json.dumps({**self.blend.to_dict(), "options": self.blend_options}, indent=2))
        self.comparison.to_csv(folder / COMPARISON_FILE)
        save_predictions(folder / OOF_FILE, ids.to_numpy(), self.blend.predict(oofs))

    def predict_test(self) -> pd.DataFrame:
        """Each kept model on the whole test.csv with the planned settings; a model that fails is left out."""
        test = self.competition.test
        failed = []
        for member in list(self.members):
            overrides = self.plan.overrides[member.name] if self.plan else self._start_overrides()[member.name]
            try:
                with self._timed(f"inference: {member.name}"):
                    self.test_proba[member.name] = self._predict(member, overrides, test)
            except Exception as error:  # one model's failure must not cost the submission
                failed.append((member.name, f"inference on test.csv failed: {type(error).__name__}: {error}"))
            member.release()  # frees its memory (a GPU's) for the next model
        for name, reason in failed:
            self._leave_out(name, reason)
        self._check_any_left()
        if failed and self.blend is not None:
            self.fit_blend(**self.blend_options)
        return self.consistency()

    def _predict(self, member, overrides: dict, test: pd.DataFrame) -> np.ndarray:
        """The member's predictions for every test row; rows predicted while timing are reused."""
        proba = np.full((len(test), N_CLASSES), np.nan)
        known = self.timer.reusable(member.name, overrides) if self.timer else None
        if known is not None:
            proba[known[0]] = known[1]
        rest = np.flatnonzero(np.isnan(proba).any(axis=1))
        if len(rest):
            proba[rest] = member.load(**overrides).predict_proba(test.iloc[rest].reset_index(drop=True))
        if not np.isfinite(proba).all():
            raise ValueError(
                f"predict_proba gave {int((~np.isfinite(proba)).any(axis=1).sum())} rows with "
                f"non-finite values of {len(test)}"
            )
        return proba

    def consistency(self) -> pd.DataFrame:
        """Largest gap between these predictions and those the training run stored for the same test ids.

        Locally the ids match and the gap should be ~0 (differences come only from changed settings,
        e.g. swap-averaging); on Kaggle's hidden test there is nothing stored to compare.
        """
        ids = self.competition.test["id"]
        rows = []
        for member in self.members:
            stored_path = member.folder / TEST_FILE
            stored = load_prediction_frame(stored_path) if stored_path.is_file() else None
            same_ids = stored is not None and len(stored) == len(ids) and stored.index.isin(ids).all()
            gap = (
                float(np.abs(stored.loc[ids.to_numpy()].to_numpy() - self.test_proba[member.name]).max())
                if same_ids
                else None
            )
            rows.append({"model": member.name, "test_rows": len(ids), "max_gap_vs_stored": gap})
        return pd.DataFrame(rows).set_index("model")

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
        print(f"wrote {self.submission_path} ({len(frame)} rows, models {', '.join(self.blend.names)})")
        return frame

    def _metrics(self) -> dict:
        table = self.comparison["log_loss"]
        return {
            "oof_log_loss": float(table["fitted blend"]),
            "models": list(self.blend.names),
            "blend": self.blend.to_dict(),
            "left_out": self.reasons,
            "seconds": self.seconds,
            "comparison": {key: float(value) for key, value in table.items()},
        }

    def time_table(self) -> pd.DataFrame:
        """Where this notebook's time went, phase by phase."""
        table = pd.DataFrame({"seconds": self.seconds})
        table.loc["total (since the run started)"] = time.perf_counter() - self.started
        return table.round(2)

    def submission_head(self, n: int = 5) -> pd.DataFrame:
        return pd.read_csv(self.submission_path).head(n)[["id", *CLASS_COLUMNS]]
