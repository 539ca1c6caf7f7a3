"""Where things are: folders under the Kaggle input mount (found by their files) and the cache.

(arenakit.data.locate.resolve_data_dir picks the competition folder: explicit, mounted or the
synthetic sample.)

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


def default_cache_dir() -> Path:
    """Where computed embeddings are kept between runs: $ARENAKIT_CACHE, else ~/.cache/arenakit."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "arenakit")
