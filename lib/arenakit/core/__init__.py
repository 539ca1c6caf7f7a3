"""What every layer shares and nothing in the kit sits below: the competition's format and class order,
errors, artifact files, paths, A/B swap arithmetic, timing phases, processes, notices and -p parsing.

schema       the file format and the one class order (CLASS_COLUMNS)
errors       the kit's exceptions and their message helpers
artifacts    reading and writing a model run's files (predictions, metrics, JSON)
paths        where the data and the Kaggle inputs are
swap         A/B swap arithmetic on predictions and rows
phases       named timing phases (timed)
distributed  the processes of one run (Accelerate / torchrun) and sharded prediction
notices      problems the reader must see (bold in a notebook)
parameters   KEY=VALUE parameters from a command line
settings     each setting's declared type and range, checked wherever a value comes from; the precedence
threads      the cores a notebook may use now, shared among notebooks running side by side
"""

from arenakit.core.artifacts import (
    FOLDS_DIR,
    METRICS_FILE,
    OOF_FILE,
    PLOTS_DIR,
    TEST_FILE,
    load_metrics,
    load_prediction_frame,
)
from arenakit.core.atomic import write_json
from arenakit.core.checksums import MANIFEST, sha256
from arenakit.core.completion import COMPLETE_FILE, check_complete
from arenakit.core.errors import ArenaDataError, ArtifactError, SubmissionError, VersionMismatch, examples
from arenakit.core.notices import notice
from arenakit.core.paths import COMPETITION_FILES, KAGGLE_INPUT_ENV
from arenakit.core.schema import CLASS_COLUMNS, CLASS_NAMES, N_CLASSES, SUBMISSION_FILE
from arenakit.core.settings import SettingError
from arenakit.core.swap import average_orders, swap_proba
from arenakit.core.threads import (
    SHARE_FILE_ENV,
    SHARE_NAME_ENV,
    follow_thread_share,
    split_cores,
    threads_now,
    write_thread_share,
)

__all__ = [
    "CLASS_COLUMNS",
    "CLASS_NAMES",
    "COMPLETE_FILE",
    "MANIFEST",
    "COMPETITION_FILES",
    "FOLDS_DIR",
    "KAGGLE_INPUT_ENV",
    "METRICS_FILE",
    "N_CLASSES",
    "OOF_FILE",
    "PLOTS_DIR",
    "SHARE_FILE_ENV",
    "SHARE_NAME_ENV",
    "SUBMISSION_FILE",
    "TEST_FILE",
    "average_orders",
    "check_complete",
    "load_metrics",
    "sha256",
    "write_json",
    "examples",
    "follow_thread_share",
    "split_cores",
    "threads_now",
    "write_thread_share",
    "load_prediction_frame",
    "notice",
    "swap_proba",
    "ArenaDataError",
    "ArtifactError",
    "SettingError",
    "SubmissionError",
    "VersionMismatch",
]
