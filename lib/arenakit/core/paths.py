"""Where the data is: an explicit folder, the Kaggle input mount, or the embedded synthetic sample.

Nothing is hard-coded to one Kaggle layout: competition and dataset folders mount under
/kaggle/input/<slug>/ or deeper (/kaggle/input/competitions/<slug>/,
/kaggle/input/datasets/<owner>/<slug>/) depending on the image, so folders are found by the
files they hold. ARENAKIT_KAGGLE_INPUT overrides the root (tests point it at a temp folder).
"""

from __future__ import annotations

import os
from pathlib import Path

from arenakit.core.schema import SAMPLE_SUBMISSION_FILE, TEST_FILE, TRAIN_FILE

KAGGLE_INPUT_ENV = "ARENAKIT_KAGGLE_INPUT"
CACHE_ENV = "ARENAKIT_CACHE"
DEFAULT_KAGGLE_INPUT = "/kaggle/input"
COMPETITION_FILES = (TRAIN_FILE, TEST_FILE, SAMPLE_SUBMISSION_FILE)
SAMPLE_DIR_NAME = "data"
# Deep enough for /kaggle/input/datasets/<owner>/<slug>/<subfolder>.
_SEARCH_DEPTH = 4


def kaggle_input_root() -> Path:
    return Path(os.environ.get(KAGGLE_INPUT_ENV, DEFAULT_KAGGLE_INPUT))


def iter_input_dirs(marker_files: tuple[str, ...], root: Path | None = None):
    """Every folder under the Kaggle input root holding all marker files, shallowest first."""
    root = kaggle_input_root() if root is None else Path(root)
    level = [root] if root.is_dir() else []
    for _ in range(_SEARCH_DEPTH + 1):
        for folder in sorted(level):
            if all((folder / marker).is_file() for marker in marker_files):
                yield folder
        level = [child for folder in level for child in folder.iterdir() if child.is_dir()]


def find_input_dir(marker_files: tuple[str, ...], root: Path | None = None) -> Path | None:
    """The shallowest folder under the Kaggle input root holding every marker file, or None."""
    return next(iter_input_dirs(marker_files, root), None)


def resolve_data_dir(data_dir: Path | str | None, out_dir: Path | str, sample_rows: int = 1000, seed: int = 0) -> Path:
    """The competition folder to use.

    An explicit data_dir wins; else the competition mounted under the Kaggle input root; else
    the synthetic sample, generated into out_dir/data the first time.
    """
    if data_dir:
        return Path(data_dir).resolve()
    mounted = find_input_dir(COMPETITION_FILES)
    if mounted is not None:
        return mounted
    sample_dir = Path(out_dir).resolve() / SAMPLE_DIR_NAME
    if not all((sample_dir / name).is_file() for name in COMPETITION_FILES):
        from arenakit.data.synthetic import write_sample

        write_sample(sample_dir, n_train=sample_rows, n_test=max(3, sample_rows // 10), seed=seed)
    return sample_dir


def default_cache_dir() -> Path:
    """Where computed embeddings are kept between runs: $ARENAKIT_CACHE, else ~/.cache/arenakit."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "arenakit")
