"""The competition's file format and the kit's one class order.

Probabilities are always an (n, 3) float array in CLASS_COLUMNS order; labels are the index
into it (0 = A preferred, 1 = B preferred, 2 = tie).
"""

CLASS_COLUMNS = ("winner_model_a", "winner_model_b", "winner_tie")
N_CLASSES = len(CLASS_COLUMNS)
CLASS_NAMES = ("A", "B", "tie")

TEXT_COLUMNS = ("prompt", "response_a", "response_b")
TRAIN_COLUMNS = ("id", "model_a", "model_b", *TEXT_COLUMNS, *CLASS_COLUMNS)
TEST_COLUMNS = ("id", *TEXT_COLUMNS)
SUBMISSION_COLUMNS = ("id", *CLASS_COLUMNS)

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
SAMPLE_SUBMISSION_FILE = "sample_submission.csv"
# What the submission notebook writes: Kaggle scores the file of this name in /kaggle/working.
SUBMISSION_FILE = "submission.csv"

# Distillation and extra data (a fit frame may carry these beside the competition's columns).
# A teacher's probabilities for a row, in CLASS_COLUMNS order; NaN where the row has no teacher
# (it then trains on its label alone). Named <x>_a / <x>_b so that swap_ab exchanges them with A and B.
TEACHER_COLUMNS = ("teacher_a", "teacher_b", "teacher_tie")
# A row's weight in training (extra data carries one per source); absent means 1.
WEIGHT_COLUMN = "row_weight"
# The label of a row that has none (unlabelled extra data): it trains on its teacher's probabilities
# only, and never enters a score.
UNLABELLED = -1
