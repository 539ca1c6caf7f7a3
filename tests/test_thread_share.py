"""The cores shared among notebooks running side by side: the split, the file, a kernel's reading of it."""

from __future__ import annotations

import pytest

from arenakit.core import SHARE_FILE_ENV, SHARE_NAME_ENV, split_cores, threads_now, write_thread_share


def test_cores_are_split_evenly_and_every_notebook_gets_one():
    assert split_cores(2, ["minilm_lgbm", "deberta_lora"]) == {"minilm_lgbm": 1, "deberta_lora": 1}
    assert split_cores(2, ["minilm_lgbm"]) == {"minilm_lgbm": 2}  # its partner finished: both cores
    assert split_cores(5, ["a", "b"]) == {"a": 3, "b": 2}
    assert split_cores(1, ["a", "b", "c"]) == {"a": 1, "b": 1, "c": 1}
    assert split_cores(4, []) == {}


def test_a_kernel_reads_its_share_again_when_the_runner_rewrites_it(tmp_path, monkeypatch):
    share = tmp_path / "thread_share.json"
    monkeypatch.delenv(SHARE_FILE_ENV, raising=False)
    assert threads_now() is None  # not under the runner: the library's own default
    monkeypatch.setenv(SHARE_FILE_ENV, str(share))
    monkeypatch.setenv(SHARE_NAME_ENV, "minilm_lgbm")
    assert threads_now() is None  # no file (yet, or the stage ended)
    write_thread_share(share, {"minilm_lgbm": 1, "deberta_lora": 1})
    assert threads_now() == 1
    write_thread_share(share, {"minilm_lgbm": 2})
    assert threads_now() == 2
    monkeypatch.setenv(SHARE_NAME_ENV, "baseline")
    assert threads_now() is None  # a notebook the file does not name


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"minilm_lgbm": "two"}', '{"minilm_lgbm": 0}'])
def test_a_damaged_share_file_means_no_share_not_an_error(tmp_path, monkeypatch, content):
    share = tmp_path / "thread_share.json"
    share.write_text(content)
    monkeypatch.setenv(SHARE_FILE_ENV, str(share))
    monkeypatch.setenv(SHARE_NAME_ENV, "minilm_lgbm")
    assert threads_now() is None
