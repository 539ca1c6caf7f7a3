"""The data layer: competition CSVs in, parsed and cleaned frames out; folds; the embedded synthetic sample.

competition  load_competition: train/test/sample_submission parsed (JSON turn lists), cleaned, labelled, swapped
csv_reading  reading a competition CSV with errors that name the file and rows
text         turning one competition cell into clean text
folds        one fold assignment (stratified, grouped by prompt) shared by every model
synthetic    the embedded default data: a sample in the competition's exact format
"""

from arenakit.data.competition import (
    NULL_FLAG_COLUMNS,
    TURN_COLUMNS,
    Competition,
    load_competition,
    load_test,
    load_train,
    parse_frame,
    swap_ab,
)

__all__ = [
    "NULL_FLAG_COLUMNS",
    "TURN_COLUMNS",
    "Competition",
    "load_competition",
    "load_test",
    "load_train",
    "parse_frame",
    "swap_ab",
]
