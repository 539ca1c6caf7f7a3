"""The kit's command line: run the notebooks locally, then build and push what Kaggle needs.

    python build.py                                       # the main job: run, wheels, datasets, kernels
    python build.py --offline                             # the same without downloads (a note says what is missing)
    python build.py run                                   # every notebook on the synthetic sample -> build/run/
    python build.py run --data-dir data                   # on the real competition data
    python build.py run --out build/try -p n_folds=3 baseline
    python build.py pair                                  # notebooks: bootstrap cell, .ipynb pairs, kernel-metadata.json
    python build.py wheels                                # wheels/: arenakit + what the Kaggle image lacks, checked
    python build.py datasets --backbone microsoft/deberta-v3-small=/models/deberta
    python build.py datasets --backbone google/gemma-2-9b-it=kaggle:google/gemma-2/transformers/gemma-2-9b-it/2
    python build.py datasets --models build/gpu-run deberta_lora   # models trained elsewhere -> <prefix>-models
    python build.py kernels                               # build/kernels/<notebook>/
    python build.py rehearse                              # the submission kernel on a fake /kaggle/input
    python build.py push --dry-run                        # the kaggle CLI commands, in dependency order
    python build.py push --submit                         # upload everything, then submit the submission kernel
    python build.py status                                # each pushed dataset's and kernel's state; failed logs

Settings come from the top-level kernel-metadata.json (the submission kernel): its id's owner
(--owner or KAGGLE_USERNAME override it) and slug name every dataset and kernel. Parameters given
with -p KEY=VALUE go to every selected notebook that declares KEY in its parameters cell; values
are read as Python literals when they parse (3, 0.1, True, "x"), else kept as text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from arenakit.core.parameters import add_parameter_option

ROOT = Path(__file__).resolve().parent
NOTEBOOK_DIR = ROOT / "notebooks"
WHEELS_DIR = ROOT / "wheels"
BUILD_DIR = ROOT / "build"
DEFAULT_OUT = BUILD_DIR / "run"
TOP_LEVEL_METADATA = ROOT / "kernel-metadata.json"
LOGS = "logs"  # build/logs/: failed kernels' logs, downloaded by push and status


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def command_run(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.runner import NotebookFailed, run_pipeline

    try:
        results = run_pipeline(
            NOTEBOOK_DIR,
            args.out,
            data_dir=args.data_dir,
            names=args.notebooks,
            parameters=dict(args.parameters),
            sample_rows=args.sample_rows,
            jobs=args.jobs,
        )
    except (NotebookFailed, ValueError) as error:
        print(f"build.py run: {error}", file=sys.stderr)
        return 1
    for result in results:
        print(f"{result.name}: {result.seconds:.0f} s, report {result.report}")
    return 0


def command_pair(args: argparse.Namespace) -> int:
    import jupytext

    from arenakit.kaggle_build.kernels import sync_top_level
    from arenakit.kaggle_build.notebook_cells import keep_cell_ids, refresh_bootstrap
    from arenakit.kaggle_build.runner import read_notebook

    for py_path in sorted(NOTEBOOK_DIR.glob("*.py")):
        if refresh_bootstrap(py_path):
            print(f"wrote the bootstrap cell into {py_path.relative_to(ROOT)}")
        notebook = read_notebook(py_path)
        keep_cell_ids(notebook, py_path.with_suffix(".ipynb"))
        jupytext.write(notebook, py_path.with_suffix(".ipynb"))
        print(f"wrote {py_path.with_suffix('.ipynb').relative_to(ROOT)}")
    if sync_top_level(TOP_LEVEL_METADATA, NOTEBOOK_DIR):
        print(f"updated {TOP_LEVEL_METADATA.name} (sources and settings derived from the notebooks)")
    return 0


def command_wheels(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.target import KAGGLE_PLATFORMS, Target
    from arenakit.kaggle_build.wheels import build_bundle

    target = Target(args.python_version, tuple(args.platform or KAGGLE_PLATFORMS))
    if args.offline:
        print("wheels: --offline, nothing is downloaded; wheels not already in the folder are noted below")
    bundle = build_bundle(ROOT, WHEELS_DIR, target, args.wheels_dir, retries=args.retries, offline=args.offline)
    for wheel in bundle.wheels:
        print(f"  {wheel.path.name}  {megabytes(wheel.path.stat().st_size)}")
    print(f"wheels: {len(bundle.wheels)} for {target.describe()}, {megabytes(bundle.size)}, in {bundle.folder}")
    for note in bundle.notes:
        print(f"note: {note}")
    if bundle.unmet:
        print("closure check: requirements neither bundled nor in the image snapshot:", file=sys.stderr)
        for item in bundle.unmet:
            print(f"  {item}", file=sys.stderr)
        if not args.offline:
            print(
                "add what is missing to wheels/requirements.txt (or fix wheels/kaggle-image.txt) and build again",
                file=sys.stderr,
            )
            return 1
    else:
        print("closure check: every requirement is met by the bundle or the image")
    return 0


def _settings(args: argparse.Namespace):
    from arenakit.kaggle_build.settings import KaggleSettings

    return KaggleSettings.read(TOP_LEVEL_METADATA, owner=args.owner)


def command_datasets(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.built import read_built
    from arenakit.kaggle_build.datasets import build_models_dataset, build_weights_dataset, build_wheels_dataset
    from arenakit.kaggle_build.manifest import require_clean, source_state
    from arenakit.kaggle_build.models_dataset import check_run
    from arenakit.kaggle_build.weights import backbone_sources

    settings = _settings(args)
    state = source_state(ROOT)
    require_clean(state, args.allow_dirty)
    # An incomplete --models run or a bad --backbone fails before anything is copied.
    run = check_run(Path(args.models[0]), args.models[1:]) if args.models else None
    sources = backbone_sources(args.backbone)
    built = [
        build_wheels_dataset(settings, args.wheels_dir, args.build_dir, state),
        build_weights_dataset(settings, sources, args.build_dir, state),
    ]
    if run is not None:
        built.append(build_models_dataset(settings, run, args.build_dir, state))
    for dataset in built:
        print(f"dataset {dataset.ref}: {megabytes(dataset.size)} in {dataset.folder}")
        for note in dataset.notes:
            print(f"note: {note}")
    if args.command == "datasets" and read_built(args.build_dir, "kernels"):
        print("kernels: rebuilt, so that their sources match these datasets")
        return command_kernels(args)
    return 0


def command_kernels(args: argparse.Namespace) -> int:
    import json

    from arenakit.kaggle_build.kernels import BuiltSources, build_kernels, top_level_metadata

    settings = _settings(args)
    if json.loads(TOP_LEVEL_METADATA.read_text()) != top_level_metadata(TOP_LEVEL_METADATA, NOTEBOOK_DIR):
        print(
            f"note: {TOP_LEVEL_METADATA.name} is out of step with the notebooks (so is a plain `kaggle kernels push` "
            f"from here): run `python build.py pair`"
        )
    built = build_kernels(settings, NOTEBOOK_DIR, args.build_dir)
    for kernel in built:
        gpu = kernel.metadata.get("machine_shape", "CPU") if kernel.metadata["enable_gpu"] else "CPU"
        print(f"kernel {kernel.ref}: {gpu}, in {kernel.folder}")
        if kernel.metadata["model_sources"]:
            print(f"  attaches the Kaggle Models {', '.join(kernel.metadata['model_sources'])}")
    sources = BuiltSources.read(settings, args.build_dir)
    for name in sources.carried:
        print(f"kernel {name}: not built; its model comes from the dataset {sources.models_dataset}")
    if settings.submission_name not in {kernel.name for kernel in built}:
        print(
            f"note: no submission kernel: {NOTEBOOK_DIR.relative_to(ROOT)}/{settings.submission_name}.py (the "
            f"code_file of {TOP_LEVEL_METADATA.name}) does not exist"
        )
    if settings.has_placeholder_owner:
        print(
            f"note: the owner is still the placeholder {settings.owner!r}: set your Kaggle user name in "
            f"{TOP_LEVEL_METADATA.name}'s id (then `python build.py pair`), or pass --owner, before pushing"
        )
    return 0


def command_push(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.push import Pusher, plan

    steps = plan(args.build_dir, args.only)
    pusher = Pusher(
        dry_run=args.dry_run,
        wait=not args.no_wait,
        poll_seconds=args.poll_seconds,
        message=args.message,
        logs_dir=args.build_dir / LOGS,
    )
    versions = pusher.push(steps, submit=args.submit)
    for ref, version in versions.items():
        print(f"pushed {ref} version {version}")
    return 0


def command_status(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.cli import KaggleCli
    from arenakit.kaggle_build.push import plan
    from arenakit.kaggle_build.status import kaggle_status, report_failures, status_table

    cli = KaggleCli()
    rows = kaggle_status(plan(args.build_dir, args.only), cli)
    print(status_table(rows), flush=True)
    for summary in report_failures(rows, cli, args.build_dir / LOGS):
        print(summary)
    return 0


def command_rehearse(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.rehearsal import LAYOUTS, rehearse

    settings = _settings(args)
    layouts = LAYOUTS if args.layout == "both" else (args.layout,)
    results = rehearse(
        args.build_dir,
        args.run_dir,
        args.data_dir or args.run_dir / "data",
        settings.submission_name,
        args.work_dir,
        layouts,
    )
    for result in results:
        print(
            f"rehearsal ({result.layout} layout): {settings.submission_name} ran in {result.seconds:.0f} s with "
            f"arenakit from the bundled wheels ({result.arenakit_location}); {result.submission_rows} submission rows "
            f"in {result.working}"
        )
    return 0


def command_image_constraints(args: argparse.Namespace) -> int:
    from arenakit.kaggle_build.image import ImageSnapshot
    from arenakit.kaggle_build.wheels import SNAPSHOT_FILE

    args.constraints_file.parent.mkdir(parents=True, exist_ok=True)
    args.constraints_file.write_text(ImageSnapshot.read(WHEELS_DIR / SNAPSHOT_FILE).constraints(args.packages))
    print(f"wrote {args.constraints_file}")
    return 0


def command_all(args: argparse.Namespace) -> int:
    """The main job: the local run, then everything Kaggle needs, so that a push is all that is left."""
    from arenakit.kaggle_build.manifest import require_clean, source_state

    require_clean(source_state(ROOT), args.allow_dirty)  # before the long run, not after it
    steps = [
        ("run", command_run),
        ("wheels", command_wheels),
        ("datasets", command_datasets),
        ("kernels", command_kernels),
    ]
    for name, handler in steps:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        status = handler(args)
        print(f"== {name}: {time.perf_counter() - started:.0f} s", flush=True)
        if status:
            return status
    print("next: `python build.py push --dry-run` to see the upload, `python build.py push` to do it")
    return 0


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="competition folder (default: synthetic sample in OUT/data)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"run folder (default: {DEFAULT_OUT.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--sample-rows", type=int, default=1000, help="train rows of the synthetic sample (default: 1000)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="notebooks run side by side at most, when they do not read each other's output "
        "(default: one per core; 1: one after another)",
    )
    add_parameter_option(parser, "notebook parameter, repeatable")


def add_wheel_options(parser: argparse.ArgumentParser, out: bool = True) -> None:
    parser.add_argument("--python-version", default="3.12", help="target Python (default: 3.12, Kaggle's)")
    parser.add_argument(
        "--platform",
        action="append",
        metavar="TAG",
        help="target wheel platform tag, repeatable (default: every manylinux x86_64 tag)",
    )
    parser.add_argument("--retries", type=int, default=3, help="download retries (default: 3)")
    parser.add_argument("--offline", action="store_true", help="download nothing; note what is missing")
    if out:
        parser.add_argument(
            "--wheels-dir", type=Path, default=WHEELS_DIR, help="where the bundle goes (default: wheels/)"
        )


def add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--owner", help="Kaggle user name (default: $KAGGLE_USERNAME, else the id in kernel-metadata.json)"
    )
    parser.add_argument(
        "--build-dir", type=Path, default=BUILD_DIR, help="where datasets/ and kernels/ go (default: build/)"
    )


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backbone",
        action="append",
        default=[],
        metavar="NAME[=PATH|=kaggle:HANDLE]",
        help="a backbone for the weights dataset, from PATH or the Hugging Face cache, or a Kaggle Model "
        "(OWNER/MODEL/FRAMEWORK/VARIATION/VERSION) the kernels attach instead; repeatable",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar=("RUN_DIR", "NAME"),
        help="also build <prefix>-models: these model folders of a run trained elsewhere (default: all of them); "
        "the submission kernel then mounts it instead of their training kernels",
    )
    parser.add_argument("--allow-dirty", action="store_true", help="build datasets from uncommitted changes")


def main(argv: list[str] | None = None) -> int:
    from arenakit.kaggle_build import BuildError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser)
    add_wheel_options(parser, out=False)
    parser.add_argument(
        "--wheels-dir", type=Path, default=WHEELS_DIR, help="where the wheel bundle goes (default: wheels/)"
    )
    add_build_options(parser)
    add_dataset_options(parser)
    parser.set_defaults(handler=command_all, notebooks=[])
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="execute notebooks with papermill, write executed .ipynb and HTML reports")
    run.add_argument("notebooks", nargs="*", help="notebook names (default: all, in pipeline order)")
    add_run_options(run)
    run.set_defaults(handler=command_run)

    pair = commands.add_parser(
        "pair", help="bootstrap cell and .ipynb for every notebook; derived fields of kernel-metadata.json"
    )
    pair.set_defaults(handler=command_pair)

    wheels = commands.add_parser(
        "wheels", help="download arenakit's dependencies the Kaggle image lacks, check the closure"
    )
    add_wheel_options(wheels)
    wheels.set_defaults(handler=command_wheels)

    datasets = commands.add_parser("datasets", help="build/datasets/: the wheels and the model weights")
    add_build_options(datasets)
    add_dataset_options(datasets)
    datasets.add_argument("--wheels-dir", type=Path, default=WHEELS_DIR, help="the wheels folder (default: wheels/)")
    datasets.set_defaults(handler=command_datasets)

    kernels = commands.add_parser("kernels", help="build/kernels/: one Kaggle kernel per notebook")
    add_build_options(kernels)
    kernels.set_defaults(handler=command_kernels)

    push = commands.add_parser("push", help="upload datasets and kernels with the kaggle CLI, in dependency order")
    push.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="what to push (default: build/)")
    push.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    push.add_argument(
        "--only", nargs="+", metavar="NAME", help="push only these datasets (slugs) or kernels (notebook names)"
    )
    push.add_argument("--submit", action="store_true", help="then submit the submission kernel's new version")
    push.add_argument("--no-wait", action="store_true", help="do not wait for datasets and training kernels to finish")
    push.add_argument("--poll-seconds", type=float, default=30, help="status poll interval while waiting (default: 30)")
    push.add_argument("--message", help="version notes and submission message (default: arenakit version and commit)")
    push.set_defaults(handler=command_push)

    status = commands.add_parser(
        "status", help="each built dataset's and kernel's state on Kaggle; a failed kernel's log, failing cell"
    )
    status.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="what was pushed (default: build/)")
    status.add_argument("--only", nargs="+", metavar="NAME", help="only these datasets (slugs) or kernels")
    status.set_defaults(handler=command_status)

    rehearse = commands.add_parser(
        "rehearse", help="run the submission kernel against a fake /kaggle/input in a fresh venv"
    )
    add_build_options(rehearse)
    rehearse.add_argument(
        "--run-dir", type=Path, default=DEFAULT_OUT, help="the local run's outputs (default: build/run)"
    )
    rehearse.add_argument("--data-dir", type=Path, help="competition folder of that run (default: RUN_DIR/data)")
    rehearse.add_argument(
        "--layout", choices=("flat", "nested", "both"), default="both", help="mount layout (default: both)"
    )
    rehearse.add_argument("--work-dir", type=Path, default=BUILD_DIR / "rehearsal", help="default: build/rehearsal")
    rehearse.set_defaults(handler=command_rehearse)

    constraints = commands.add_parser(
        "image-constraints", help="pip constraints: these packages at the image's versions"
    )
    constraints.add_argument("packages", nargs="+", help="package names the image snapshot pins")
    constraints.add_argument("--constraints-file", type=Path, default=BUILD_DIR / "image-constraints.txt")
    constraints.set_defaults(handler=command_image_constraints)

    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except BuildError as error:
        print(f"build.py{' ' + args.command if args.command else ''}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
