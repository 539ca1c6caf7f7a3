"""Errors the kit raises for bad input. Messages name the file, the row id and what to do."""

MAX_EXAMPLES = 5  # ids (or values) an error message names before it says how many more


def examples(values) -> str:
    """A few values for an error message: "1, 2, 3, 4, 5 and 7 more" ("none" when there are none)."""
    values = list(values)
    if not values:
        return "none"
    shown = ", ".join(str(value) for value in values[:MAX_EXAMPLES])
    return shown + (f" and {len(values) - MAX_EXAMPLES} more" if len(values) > MAX_EXAMPLES else "")


def counted(values, what: str) -> str:
    """How many values and a few of them, "2 id(s) missing (e.g. 4, 9)"; "" when there are none.

    Join the parts of a message with join_present, so a message names only what is there and
    never reads "0 id(s) missing, e.g. ".
    """
    values = list(values)
    return f"{len(values)} {what} (e.g. {examples(values)})" if values else ""


def join_present(*parts: str, separator: str = "; ") -> str:
    """The non-empty parts, joined."""
    return separator.join(part for part in parts if part)


class ArenaDataError(ValueError):
    """A competition file cannot be used as it is."""


class SubmissionError(ValueError):
    """A submission would be rejected (or scored wrongly) by Kaggle."""


class ArtifactError(ValueError):
    """A saved model or run folder cannot be used as it is (damaged, edited, or not the kit's)."""


class VersionMismatch(ValueError):
    """Saved artifacts were made by another version of a part of the kit (formatter, features)."""


def check_saved_version(what: str, saved, current: int, where: str = "these artifacts") -> None:
    """Refuse artifacts made with another version of `what`: the model would read inputs unlike its training inputs."""
    if str(saved) != str(current):
        raise VersionMismatch(
            f"{where} were made with {what} version {saved}, but this arenakit computes version {current}: "
            "retrain or use the kit version that made them."
        )
