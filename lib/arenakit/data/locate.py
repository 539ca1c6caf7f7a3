"""Which competition folder a run uses: an explicit folder, the Kaggle input mount, or the embedded synthetic sample."""

from __future__ import annotations

from pathlib import Path

from arenakit.core.paths import COMPETITION_FILES, find_input_dir
from arenakit.data.synthetic import write_sample

SAMPLE_DIR_NAME = "data"


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
        write_sample(sample_dir, n_train=sample_rows, n_test=max(3, sample_rows // 10), seed=seed)
    return sample_dir
