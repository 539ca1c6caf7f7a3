"""KEY=VALUE parameters from a command line (build.py run -p, python -m arenakit.train -p): the option and its parser.

Values are read as Python literals when they parse (3, 0.1, True, None, [0, 1], "x"), else kept as
text (arenakit.core.settings.parse_value); whoever takes them checks each against its declared
type and range, so "flase" reaches them as the text it is and is refused there, never read as True.
"""

from __future__ import annotations

import argparse

from arenakit.core.settings import parse_value


def parse_parameter(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, parse_value(value)


def add_parameter_option(parser: argparse.ArgumentParser, help: str) -> None:
    """-p/--parameter KEY=VALUE, repeatable, collected as (key, value) pairs in args.parameters."""
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        type=parse_parameter,
        default=[],
        metavar="KEY=VALUE",
        help=help,
    )
