"""The data layer: competition CSVs in, parsed and cleaned frames out; folds; the embedded synthetic sample.

competition  load_competition: train/test/sample_submission parsed (JSON turn lists), cleaned, labelled, swapped
csv_reading  reading a competition CSV with errors that name the file and rows
text         turning one competition cell into clean text
locate       which competition folder a run uses (resolve_data_dir)
folds        one fold assignment (stratified, grouped by prompt) shared by every model
synthetic    the embedded default data: a sample in the competition's exact format
extra        read_extra_data: extra preference pairs (extra_formats: competition-like or pairwise), checked, de-duplicated, weighted
teacher_file read_teacher_file / write_teacher_file: a teacher's per-fold predictions made elsewhere
annotations  reading python -m arenakit.annotate's records: keys, judge choice, each side's ratings
taxonomy     the properties a judge rates (a versioned data file; the paper's by default)
"""

from arenakit.data.annotations import AnnotationFileError, choose_source, read_annotations, response_keys
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
from arenakit.data.extra import ExtraDataReport, extra_rows_for_fold, read_extra_data
from arenakit.data.folds import FOLDS_FILE, FOLDS_META_FILE, assign_folds, prompt_groups
from arenakit.data.locate import resolve_data_dir
from arenakit.data.synthetic import write_sample
from arenakit.data.taxonomy import DEFAULT_TAXONOMY, TaxonomyError, load_taxonomy
from arenakit.data.teacher_file import (
    TeacherFileError,
    read_teacher_file,
    teacher_file_is_oof_only,
    write_teacher_file,
)

__all__ = [
    "DEFAULT_TAXONOMY",
    "AnnotationFileError",
    "TaxonomyError",
    "choose_source",
    "load_taxonomy",
    "read_annotations",
    "response_keys",
    "FOLDS_FILE",
    "FOLDS_META_FILE",
    "NULL_FLAG_COLUMNS",
    "TURN_COLUMNS",
    "Competition",
    "ExtraDataReport",
    "TeacherFileError",
    "assign_folds",
    "extra_rows_for_fold",
    "load_competition",
    "load_test",
    "load_train",
    "parse_frame",
    "prompt_groups",
    "read_extra_data",
    "read_teacher_file",
    "resolve_data_dir",
    "swap_ab",
    "teacher_file_is_oof_only",
    "write_sample",
    "write_teacher_file",
]
