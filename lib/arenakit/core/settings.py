"""One way to read settings: each setting's type and range declared once, checked wherever a value comes from.

    DECLARED = {"n_folds": integer(2), "swap_average": boolean(), "C": real(0, optional=True)}
    check_settings({"n_folds": 5}, DECLARED, "notebook parameter")          # the values, checked
    resolve_settings(DECLARED, explicit={"swap_average": False}, profile={"swap_average": True},
                     defaults={"swap_average": True}, source="command line -p")   # -> swap_average False

Like scikit-learn's `_parameter_constraints`, a model class declares its settings once
(ArenaModel.declared_settings); the same declarations check a model's parameters at fit, the
notebooks' parameters, `python -m arenakit.train -p` values and the ensemble's `inference=`.
Values are taken as they are, never guessed: "flase" or "no" is not a boolean, "abc" not a
number. Command-line text is read as a Python literal first (parse_value: `True`, `3`, `[0, 1]`).

The precedence, in resolve_settings alone: an explicit setting (given, not None) beats the
profile's, which beats the default. Names nobody declared are refused with the list of known ones.
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass


class SettingError(ValueError):
    """A setting's name or value is not one the kit takes; the message says which, from where, and what is."""


@dataclass(frozen=True)
class Setting:
    """The declared type and range of one setting."""

    kind: str  # "bool", "int", "float", "choice", "text", "list" (of item), "mapping" or "any"
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    optional: bool = False  # None is allowed (and means "not set": a profile's or the default's value)
    above: bool = False  # low itself is refused (a learning rate above 0)
    item: Setting | None = None  # a list's items
    meaning_of_none: str = ""

    def allowed(self) -> str:
        """What the setting takes, in words."""
        text = {
            "bool": "True or False",
            "int": "an integer" + _range(self.low, self.high),
            "float": "a number" + (f" above {self.low:g}" if self.above else _range(self.low, self.high)),
            "choice": "one of " + ", ".join(repr(choice) for choice in self.choices) if self.choices else "",
            "text": "a text",
            "list": f"a list, each item {self.item.allowed() if self.item else ''}",
            "mapping": "a dict",
            "any": "any value",
        }[self.kind]
        if self.optional:
            text += (" or None" if text else "None") + (f" ({self.meaning_of_none})" if self.meaning_of_none else "")
        return text

    def check(self, value):
        """The value when this setting takes it (ints widened to float, numpy scalars to Python's); else None."""
        if value is None:
            return (None,) if self.optional or self.kind == "any" else None
        kind = self.kind
        if kind == "any":
            return (value,)
        if kind == "bool":
            return (bool(value),) if isinstance(value, (bool, _numpy_bool())) else None
        if kind == "int":
            return _in_range(_integer(value), self.low, self.high)
        if kind == "float":
            number = float(value) if _is_number(value) else None
            if number is None or not math.isfinite(number) or (self.above and number <= self.low):
                return None
            return _in_range(number, self.low, self.high)
        if kind == "choice":
            return (value,) if isinstance(value, str) and value in self.choices else None
        if kind == "text":
            return (value,) if isinstance(value, str) else None
        if kind == "mapping":
            return (dict(value),) if isinstance(value, Mapping) else None
        if not isinstance(value, (list, tuple)):
            return None
        items = [self.item.check(item) for item in value]
        return ([item[0] for item in items],) if all(item is not None for item in items) else None


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" from {low:g} up"
    if high is not None:
        return f" up to {high:g}"
    return ""


def _numpy_bool():
    import numpy

    return numpy.bool_


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, _numpy_bool()))


def _integer(value) -> int | None:
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, _numpy_bool())):
        return int(value)
    return None


def _in_range(value, low, high):
    if value is None or (low is not None and value < low) or (high is not None and value > high):
        return None
    return (value,)


def boolean(*, optional: bool = False, none: str = "") -> Setting:
    return Setting("bool", optional=optional, meaning_of_none=none)


def integer(low: int | None = None, high: int | None = None, *, optional: bool = False, none: str = "") -> Setting:
    return Setting("int", low, high, optional=optional, meaning_of_none=none)


def real(
    low: float | None = None, high: float | None = None, *, above: bool = False, optional: bool = False, none: str = ""
) -> Setting:
    """A number from low to high; above=True: above low, low itself refused (a learning rate)."""
    return Setting("float", low, high, optional=optional, meaning_of_none=none, above=above)


def choice(*choices: str, optional: bool = False, none: str = "") -> Setting:
    return Setting("choice", choices=choices, optional=optional, meaning_of_none=none)


def text(*, optional: bool = False, none: str = "") -> Setting:
    return Setting("text", optional=optional, meaning_of_none=none)


def list_of(item: Setting, *, optional: bool = False, none: str = "") -> Setting:
    """A list (or tuple) whose every item the item setting takes."""
    return Setting("list", item=item, optional=optional, meaning_of_none=none)


def anything() -> Setting:
    """A setting a model takes without declaring its type (a model class of the user's own)."""
    return Setting("any")


def mapping(*, optional: bool = False, none: str = "") -> Setting:
    return Setting("mapping", optional=optional, meaning_of_none=none)


def check_setting(name: str, value, setting: Setting, source: str):
    """The value, checked against its declaration; a SettingError naming all four otherwise."""
    checked = setting.check(value)
    if checked is None:
        hint = " (without quotes)" if setting.kind == "bool" and isinstance(value, str) else ""
        raise SettingError(f"{name}={value!r} from {source}: {name} takes {setting.allowed()}{hint}")
    return checked[0]


def refuse_unknown(names, declared: Mapping, source: str, what: str = "setting") -> None:
    """Refuse names nobody declared, listing the known ones (nanoGPT's configurator does the same)."""
    unknown = sorted(set(names) - set(declared))
    if unknown:
        raise SettingError(
            f"unknown {what}(s) {', '.join(unknown)} from {source}; known: {', '.join(sorted(declared))}"
        )


def check_settings(given: Mapping, declared: Mapping[str, Setting], source: str) -> dict:
    """Every given setting, checked; unknown names refused."""
    refuse_unknown(given, declared, source)
    return {name: check_setting(name, value, declared[name], source) for name, value in given.items()}


def resolve_settings(
    declared: Mapping[str, Setting],
    explicit: Mapping,
    source: str,
    profile: Mapping | None = None,
    defaults: Mapping | None = None,
    profile_source: str = "the profile",
) -> dict:
    """The settings to use: explicit (given and not None) beats the profile, which beats the default.

    Every name is checked against `declared` (unknown ones refused) and every value against its
    declaration; an error names where the value came from (source for explicit values,
    profile_source for the profile's).
    """
    chosen = check_settings({key: value for key, value in explicit.items() if value is not None}, declared, source)
    from_profile = check_settings(dict(profile or {}), declared, profile_source)
    return {**dict(defaults or {}), **from_profile, **chosen}


def parse_value(text: str):
    """A command-line value as the Python literal it spells (3, 0.1, True, None, [0, 1], "x"), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
