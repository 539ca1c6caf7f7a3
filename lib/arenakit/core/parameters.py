"""KEY=VALUE parameters from a command line (build.py run -p, python -m arenakit.train -p): the option and its parser.

Values are read as Python literals when they parse (3, 0.1, True, None, [0, 1], "x"), else kept as text.
"""

from __future__ import annotations

import argparse
import ast


def parse_parameter(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


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
