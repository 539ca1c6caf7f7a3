"""The kit's command line: run the notebooks locally, keep notebook pairs in sync.

    python build.py run                                   # every notebook on the synthetic sample -> build/run/
    python build.py run --data-dir data                   # on the real competition data
    python build.py run --out build/try -p n_folds=3 baseline
    python build.py pair                                  # regenerate each notebooks/*.ipynb from its .py

Parameters given with -p KEY=VALUE go to every selected notebook that declares KEY in its
parameters cell; values are read as Python literals when they parse (3, 0.1, True, "x"), else
kept as text.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NOTEBOOK_DIR = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "run"


def parse_parameter(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def command_run(args: argparse.Namespace) -> int:
    from arenakit.runner import NotebookFailed, run_pipeline

    try:
        results = run_pipeline(
            NOTEBOOK_DIR, args.out, data_dir=args.data_dir, names=args.notebooks,
            parameters=dict(args.parameters), sample_rows=args.sample_rows,
        )
    except (NotebookFailed, ValueError) as error:
        print(f"build.py run: {error}", file=sys.stderr)
        return 1
    for result in results:
        print(f"{result.name}: {result.seconds:.0f} s, report {result.report}")
    return 0


def command_pair(args: argparse.Namespace) -> int:
    import jupytext

    from arenakit.runner import read_notebook

    for py_path in sorted(NOTEBOOK_DIR.glob("*.py")):
        jupytext.write(read_notebook(py_path), py_path.with_suffix(".ipynb"))
        print(f"wrote {py_path.with_suffix('.ipynb').relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute notebooks with papermill, write executed .ipynb and HTML reports")
    run.add_argument("notebooks", nargs="*", help="notebook names (default: all, in pipeline order)")
    run.add_argument("--data-dir", type=Path, help="competition folder (default: synthetic sample in OUT/data)")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT.relative_to(ROOT)})")
    run.add_argument("--sample-rows", type=int, default=1000, help="train rows of the synthetic sample (default: 1000)")
    run.add_argument("-p", "--parameter", dest="parameters", action="append", type=parse_parameter, default=[],
                     metavar="KEY=VALUE", help="notebook parameter, repeatable")
    run.set_defaults(handler=command_run)

    pair = commands.add_parser("pair", help="regenerate every notebooks/*.ipynb from its percent-format .py")
    pair.set_defaults(handler=command_pair)

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
