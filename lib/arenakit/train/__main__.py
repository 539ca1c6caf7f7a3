"""The training command: train models outside notebooks, on one GPU or all of a machine's, into a run folder.

    python -m arenakit.train lora --data-dir data --out build/run --folds 0 1 -p backbone=google/gemma-2-9b-it -p quantize=4bit
    python -m arenakit.train properties --annotations build/annotations.jsonl --data-dir data \
        --backbone microsoft/deberta-v3-small --out build/properties-deberta   # see arenakit.train.properties
    torchrun --nproc_per_node 4 -m arenakit.train lora --data-dir data --out build/run --folds 0
    python -m arenakit.train teacher-predictions --run-dir build/run --model deberta_lora --out teacher.csv
    accelerate launch --config_file lib/arenakit/train/configs/deepspeed-zero2-4xa100.yaml \\
        -m arenakit.train lora --data-dir data --out build/run --folds 0 -p backbone=google/gemma-2-9b-it

It writes what the deberta_lora notebook writes (folds.csv/json, deberta_lora/{oof.csv, test.csv,
metrics.json, folds/fold_k, plots}), through the same code (arenakit.train.lora), so the ensemble
and build.py treat both alike. -p KEY=VALUE sets any LoRA setting (python -m arenakit.train lora
--help lists them); settings not given take the device's profile. A rerun reuses finished folds
and resumes an interrupted one from its checkpoint. teacher-predictions writes a teacher file from a
trained model of a run (arenakit.train.teacher_predictions).
"""

from __future__ import annotations

import argparse
import os
import sys

from arenakit.core.parameters import add_parameter_option
from arenakit.core.paths import COMPETITION_FILES, find_input_dir
from arenakit.data.locate import SAMPLE_DIR_NAME
from arenakit.train.properties import add_command as add_properties_command
from arenakit.train.properties import run_command as train_properties

# Errors that name the file, the setting or the model folder at fault: shown as one line, no traceback.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, ImportError)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from arenakit.models.lora.profiles import setting_names

    parser = argparse.ArgumentParser(prog="python -m arenakit.train", description=__doc__.split("\n\n")[0])
    models = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    lora = models.add_parser(
        "lora",
        help="the LoRA classifier (the deberta_lora notebook's model)",
        description="Cross-validate the LoRA classifier on the chosen folds and write its artifacts.",
        epilog=f"settings for -p: {', '.join(sorted(setting_names()))}",
    )
    lora.add_argument(
        "--data-dir",
        help="competition folder (train.csv, test.csv, sample_submission.csv); "
        "default: the Kaggle input, else a SYNTHETIC sample in OUT/data (said so when it happens)",
    )
    lora.add_argument("--out", required=True, help="run folder, shared with the other models (folds.csv)")
    lora.add_argument("--folds", type=int, nargs="+", help="fold numbers to train (default: the profile's, [0])")
    lora.add_argument("--n-folds", type=int, default=5, help="folds of the run (default: 5)")
    lora.add_argument("--seed", type=int, default=42, help="seed of the fold assignment (default: 42)")
    add_parameter_option(lora, "a LoRA setting, repeatable (-p max_length=1024 -p lora_r=16)")
    add_distillation_options(lora)
    add_teacher_predictions_parser(models)
    add_properties_command(models)
    args = parser.parse_args(argv)
    unknown = sorted({key for key, _ in args.parameters} - setting_names()) if args.model == "lora" else []
    if unknown:
        parser.error(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(setting_names()))}")
    return args


def add_distillation_options(parser: argparse.ArgumentParser) -> None:
    """--teacher, --extra-data, --distill-weight, --distill-temperature (README: "The field's route")."""
    group = parser.add_argument_group("distillation (issue 22)")
    group.add_argument(
        "--teacher",
        help="soft targets per fold: 'ensemble' (the run's ensemble), a model of the run folder (e.g. minilm_lgbm), "
        "or a teacher file (CSV of id, fold, winner_model_a, winner_model_b, winner_tie)",
    )
    group.add_argument(
        "--extra-data", nargs="+", metavar="FILE", help="extra rows for the training folds only (never scored)"
    )
    group.add_argument("--distill-weight", type=float, help="share of the KL term in the loss (0 to 1)")
    group.add_argument("--distill-temperature", type=float, help="temperature of teacher and student in the KL term")


def distillation_settings(args: argparse.Namespace) -> dict:
    """The distillation options given, as the settings they set (checked with the others)."""
    chosen = {"distill_weight": args.distill_weight, "distill_temperature": args.distill_temperature}
    return {key: value for key, value in chosen.items() if value is not None}


def add_teacher_predictions_parser(models) -> None:
    teacher = models.add_parser(
        "teacher-predictions",
        help="a teacher file: each fold model of a trained model predicting every train (and extra) row",
        description="Write a teacher file (id, fold, winner_model_a, winner_model_b, winner_tie; one set per "
        "fold) from a model of a run folder, for distilling a student (README: Teacher files).",
    )
    teacher.add_argument(
        "--run-dir", dest="run", required=True, help="the run folder the teacher was trained into (folds.csv, MODEL/)"
    )
    teacher.add_argument(
        "--model",
        dest="teacher_model",
        required=True,
        help="the teacher's model folder name in the run, e.g. deberta_lora",
    )
    teacher.add_argument("--out", required=True, help="the teacher file to write (CSV)")
    teacher.add_argument("--data-dir", help="competition folder the run trained on (default: as the training found it)")
    teacher.add_argument(
        "--extra-data", nargs="+", default=[], metavar="FILE", help="extra-data file(s) to predict too"
    )
    teacher.add_argument("--folds", type=int, nargs="+", help="fold models to use (default: every saved one)")
    add_parameter_option(teacher, "an inference setting of the saved model, repeatable (-p max_batch_tokens=16384)")


def write_teacher_file(args: argparse.Namespace) -> None:
    from arenakit.train.teacher_predictions import write_teacher_predictions

    if synthetic_data_notice(args.data_dir, args.run):
        print(
            "arenakit.train teacher-predictions: no --data-dir given and no competition data under the Kaggle "
            f"input, so the rows predicted are the SYNTHETIC sample in {os.path.join(args.run, SAMPLE_DIR_NAME)}. "
            "Pass --data-dir FOLDER: the data the run was trained on.",
            file=sys.stderr,
            flush=True,
        )
    write_teacher_predictions(
        args.run, args.teacher_model, args.out, args.data_dir, args.extra_data, args.folds, dict(args.parameters)
    )


def synthetic_data_notice(data_dir, out_dir) -> str | None:
    """What to say when no data folder is given and none is mounted: the run trains on made-up rows."""
    if data_dir or find_input_dir(COMPETITION_FILES) is not None:
        return None
    return (
        f"arenakit.train: no --data-dir given and no competition data under the Kaggle input, so this trains on "
        f"the SYNTHETIC sample in {os.path.join(out_dir, SAMPLE_DIR_NAME)} (generated rows, not the competition's): "
        "its scores say nothing about the real task. Pass --data-dir FOLDER (train.csv, test.csv, "
        "sample_submission.csv) to train on the real data."
    )


def train_lora(args: argparse.Namespace) -> None:
    from arenakit.train.lora import LoRATrainingRun

    parameters = {**dict(args.parameters), **distillation_settings(args)}
    if args.folds is not None:
        parameters["folds_to_train"] = args.folds
    notice = synthetic_data_notice(args.data_dir, args.out)
    if notice:
        print(notice, file=sys.stderr, flush=True)
    run = LoRATrainingRun(
        args.data_dir,
        args.out,
        parameters,
        n_folds=args.n_folds,
        seed=args.seed,
        source="command line -p",
        teacher=args.teacher,
        extra_data=args.extra_data,
    )
    run.run_all()


def main(argv: list[str] | None = None) -> int:
    # Under torchrun (and accelerate launch, which uses it), a failing process's error goes to the
    # file torchrun reads: its summary then names the process and the error, not only an exit code.
    from torch.distributed.elastic.multiprocessing.errors import record

    args = parse_args(argv)
    command = {"lora": train_lora, "properties": train_properties, "teacher-predictions": write_teacher_file}[
        args.model
    ]
    run = record(command) if "TORCHELASTIC_ERROR_FILE" in os.environ else command
    try:
        run(args)
    except EXPECTED_ERRORS as error:
        print(f"arenakit.train: error in process {os.environ.get('RANK', '0')}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
