"""submission: every way a file can be wrong is caught and named; good files come out right."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenakit.core.errors import SubmissionError
from arenakit.core.schema import CLASS_COLUMNS, SUBMISSION_COLUMNS
from arenakit.evaluation.submission import make_submission, validate_submission, write_submission

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / ".." / "shared" / "data" / "arena-sample"

TEST_IDS = [101, 205, 307, 409, 511, 613, 715]


def sample_submission(ids=TEST_IDS):
    frame = pd.DataFrame({"id": ids})
    for column in CLASS_COLUMNS:
        frame[column] = 1 / 3
    return frame


def good_frame():
    """A valid submission for TEST_IDS with distinct rows, so reordering mistakes show."""
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=len(TEST_IDS))
    frame = pd.DataFrame(proba, columns=list(CLASS_COLUMNS))
    frame.insert(0, "id", TEST_IDS)
    return frame


def assert_rejected(frame, *fragments, test_ids=TEST_IDS, **kwargs):
    with pytest.raises(SubmissionError) as caught:
        validate_submission(frame, test_ids, **kwargs)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_good_frame_passes():
    validate_submission(good_frame(), TEST_IDS)
    validate_submission(good_frame().iloc[::-1], TEST_IDS)  # Kaggle joins by id: order is free
    validate_submission(good_frame(), [str(i) for i in TEST_IDS])  # ids read as text


def test_missing_column():
    assert_rejected(good_frame().drop(columns="winner_tie"), "missing ['winner_tie']")


def test_extra_column():
    frame = good_frame().assign(model_a="gpt-4")
    assert_rejected(frame, "unexpected ['model_a']")


def test_misspelt_and_duplicated_columns():
    frame = good_frame().rename(columns={"winner_model_a": "winner_a"})
    assert_rejected(frame, "missing ['winner_model_a']", "unexpected ['winner_a']")
    frame = good_frame()
    frame = pd.concat([frame, frame[["winner_tie"]]], axis=1)
    assert_rejected(frame, "duplicated ['winner_tie']")


def test_wrong_column_order():
    frame = good_frame()[["id", "winner_model_b", "winner_model_a", "winner_tie"]]
    assert_rejected(frame, "wrong order", str(list(SUBMISSION_COLUMNS)))


def test_missing_ids():
    frame = good_frame().iloc[2:]
    assert_rejected(frame, "2 test ids are missing, e.g. 101, 205")


def test_extra_ids():
    frame = pd.concat([good_frame(), good_frame().iloc[:1].assign(id=999)])
    assert_rejected(frame, "1 ids are not in test.csv, e.g. 999")


def test_missing_and_extra_ids_reported_together():
    frame = good_frame()
    frame.loc[0, "id"] = 1
    assert_rejected(frame, "1 test ids are missing, e.g. 101", "1 ids are not in test.csv, e.g. 1")


def test_many_missing_ids_listed_with_a_count_of_the_rest():
    more_ids = [801, 802, 803, 804, 805, 806, 807]
    message = assert_rejected(good_frame(), "7 test ids are missing", test_ids=TEST_IDS + more_ids)
    assert "801, 802, 803, 804, 805 and 2 more" in message
    assert "not in test.csv" not in message  # only what is there: no "0 ids are not in test.csv, e.g. "


def test_zero_row_submission_is_refused(tmp_path):
    message = assert_rejected(good_frame().iloc[:0], "the submission has no rows", "7 here", "Predict every test row")
    assert "e.g." not in message
    with pytest.raises(SubmissionError, match=r"the submission has no rows.*\(0 here\)"):
        validate_submission(good_frame().iloc[:0], [])
    with pytest.raises(SubmissionError, match="sample_submission has no rows.*load_competition"):
        write_submission(np.zeros((0, 3)), [], sample_submission([]), tmp_path / "submission.csv")
    assert not (tmp_path / "submission.csv").exists()


def test_duplicate_ids():
    frame = pd.concat([good_frame(), good_frame().iloc[[1, 3]]])
    assert_rejected(frame, "2 ids appear more than once (4 rows), e.g. 205, 409")


def test_null_ids():
    frame = good_frame().astype({"id": object})
    frame.loc[3, "id"] = None
    assert_rejected(frame, "1 rows have no id")


def test_non_numeric_values():
    frame = good_frame().astype({"winner_tie": object})
    frame.loc[1, "winner_tie"] = "high"
    assert_rejected(frame, "1 rows have non-numeric probabilities, e.g. ids 205")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(bad):
    frame = good_frame()
    frame.loc[[2, 4], "winner_model_b"] = bad
    assert_rejected(frame, "2 rows have empty, NaN or infinite probabilities, e.g. ids 307, 511")


@pytest.mark.parametrize("row", [[1.0, 0.0, 0.0], [1.2, -0.1, -0.1], [0.5, 0.5, 0.0]])
def test_values_outside_open_interval(row):
    frame = good_frame()
    frame.loc[5, list(CLASS_COLUMNS)] = row
    assert_rejected(frame, "1 rows have probabilities outside (0, 1), e.g. ids 613", "clip")


def test_values_inside_interval_but_closer_than_eps():
    frame = good_frame()
    frame.loc[0, list(CLASS_COLUMNS)] = [1 - 2e-9, 1e-9, 1e-9]
    validate_submission(frame, TEST_IDS)
    assert_rejected(frame, "outside [1e-06, 1 - 1e-06], e.g. ids 101", eps=1e-6)


def test_row_sum_off():
    frame = good_frame()
    frame.loc[[1, 6], "winner_tie"] += 0.01
    assert_rejected(frame, "2 rows do not sum to 1 (within 1e-06), e.g. ids 205, 715")
    frame = good_frame()
    frame.loc[1, "winner_tie"] += 5e-7  # within tolerance
    validate_submission(frame, TEST_IDS)


def test_make_submission_aligns_by_id_and_orders_like_sample():
    expected = good_frame()
    shuffled = expected.sample(frac=1.0, random_state=1)
    proba = shuffled[list(CLASS_COLUMNS)].to_numpy()
    result = make_submission(proba, shuffled["id"].to_numpy(), sample_submission(), eps=0.0)
    assert list(result.columns) == list(SUBMISSION_COLUMNS)
    assert list(result["id"]) == TEST_IDS
    np.testing.assert_allclose(result[list(CLASS_COLUMNS)], expected[list(CLASS_COLUMNS)])


def test_make_submission_clips_and_renormalises():
    eps = 1e-6
    proba = np.tile([1 / 3, 1 / 3, 1 / 3], (len(TEST_IDS), 1))
    proba[0] = [1.0, 0.0, 0.0]
    proba[1] = [0.0, 0.0, 1.0]
    proba[2] = [0.2, 0.3, 0.49]  # slightly unnormalised: renormalised, not rejected
    result = make_submission(proba, TEST_IDS, sample_submission(), eps=eps)
    values = result[list(CLASS_COLUMNS)].to_numpy()
    assert values.min() >= eps and values.max() <= 1 - eps
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    assert values[0, 1] == pytest.approx(eps) and values[0, 0] == pytest.approx(1 - 2 * eps)
    np.testing.assert_allclose(values[2], np.array([0.2, 0.3, 0.49]) / 0.99, atol=1e-5)
    np.testing.assert_allclose(values[3], 1 / 3)


def test_make_submission_rejects_mismatched_ids_and_bad_proba():
    proba = np.full((len(TEST_IDS), 3), 1 / 3)
    with pytest.raises(SubmissionError, match="1 test ids are missing, e.g. 715"):
        make_submission(proba[:-1], TEST_IDS[:-1], sample_submission())
    with pytest.raises(SubmissionError, match="ids appear more than once"):
        make_submission(proba, [*TEST_IDS[:-1], 101], sample_submission())
    with pytest.raises(SubmissionError, match="6 ids but 7 rows"):
        make_submission(proba, TEST_IDS[:-1], sample_submission())
    with pytest.raises(SubmissionError, match=r"shape \(n, 3\)"):
        make_submission(proba[:, :2], TEST_IDS, sample_submission())
    bad = proba.copy()
    bad[3] = [np.nan, 0.5, 0.5]
    bad[4] = 0.0
    with pytest.raises(SubmissionError, match="2 rows of proba are not probabilities.*409, 511"):
        make_submission(bad, TEST_IDS, sample_submission())
    with pytest.raises(SubmissionError, match="eps"):
        make_submission(proba, TEST_IDS, sample_submission(), eps=0.5)


def test_write_submission_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    proba = rng.dirichlet([0.3, 0.3, 0.3], size=len(TEST_IDS))  # many values near 0 and 1
    ids = TEST_IDS[::-1]
    path = tmp_path / "out" / "submission.csv"
    frame = write_submission(proba, ids, sample_submission(), path)
    reread = pd.read_csv(path)
    validate_submission(reread, TEST_IDS, eps=1e-6)
    assert list(reread["id"]) == TEST_IDS
    np.testing.assert_array_equal(reread[list(CLASS_COLUMNS)], frame[list(CLASS_COLUMNS)])
    np.testing.assert_allclose(reread[list(CLASS_COLUMNS)].sum(axis=1), 1.0, atol=1e-9)


def test_real_sample_submission(tmp_path):
    path = SAMPLE_DIR / "sample_submission.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    sample = pd.read_csv(path)
    validate_submission(sample, sample["id"])
    ids = sample["id"].to_numpy()[::-1]
    proba = np.tile([0.5, 0.3, 0.2], (len(ids), 1))
    written = write_submission(proba, ids, sample, tmp_path / "submission.csv")
    assert list(written["id"]) == list(sample["id"])
    assert list(pd.read_csv(tmp_path / "submission.csv").columns) == list(sample.columns)
