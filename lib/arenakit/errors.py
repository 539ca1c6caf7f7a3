"""Errors the kit raises for bad input. Messages name the file, the row id and what to do."""


class ArenaDataError(ValueError):
    """A competition file cannot be used as it is."""


class SubmissionError(ValueError):
    """A submission would be rejected (or scored wrongly) by Kaggle."""
