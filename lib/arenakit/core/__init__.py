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
"""

from arenakit.core.errors import ArenaDataError, ArtifactError, SubmissionError, VersionMismatch
from arenakit.core.schema import CLASS_COLUMNS, CLASS_NAMES, N_CLASSES
from arenakit.core.settings import SettingError

__all__ = [
    "CLASS_COLUMNS",
    "CLASS_NAMES",
    "N_CLASSES",
    "ArenaDataError",
    "ArtifactError",
    "SettingError",
    "SubmissionError",
    "VersionMismatch",
]
