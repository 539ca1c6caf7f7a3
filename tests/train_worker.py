"""One process of a torchrun launch of the training command, with the instruments the distributed tests read.

    torchrun --standalone --nproc_per_node 2 tests/train_worker.py lora --data-dir DATA --out RUN ...
    code, output, seconds = torchrun(command(data, out, backbone, settings), log=folder)   # from a test

It runs `python -m arenakit.train` (arenakit.train.__main__.main) unchanged; environment variables
add instruments around it:

  ARENAKIT_TEST_LOG=DIR        each process writes DIR/process_<rank>.json at exit: the paths it
                               opened for writing, created, renamed or removed (a Python audit
                               hook), and how many training batches it ran
  ARENAKIT_TEST_STOP_AFTER=N   every process is interrupted (KeyboardInterrupt, as by Ctrl-C) at
                               its Nth training batch
  ARENAKIT_TEST_FAIL=R:N       process R raises at its Nth training batch (as a GPU running out of
                               memory would); the others carry on into the next gradient exchange
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RANK = int(os.environ.get("RANK", "0"))
WRITE_EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "shutil.rmtree"}
record = {"writes": [], "batches": 0}


def _written_path(event: str, args: tuple) -> str | None:
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR))
        return path if writing and isinstance(path, str | os.PathLike) else None
    if event in WRITE_EVENTS and args and isinstance(args[0], str | os.PathLike):
        return args[0]
    return None


def install_write_log(folder: Path) -> None:
    path = folder / f"process_{RANK}.json"

    def audit(event: str, args: tuple) -> None:
        written = _written_path(event, args)
        if written is not None:
            record["writes"].append(os.path.abspath(os.fspath(written)))

    def dump() -> None:
        path.write_text(json.dumps(record))  # serialised before this write is logged: the log lists only the run's

    atexit.register(dump)
    sys.addaudithook(audit)


def install_batch_hooks() -> None:
    from arenakit.models.lora.train import Trainer

    stop_after = int(os.environ.get("ARENAKIT_TEST_STOP_AFTER", "0"))
    fail_rank, _, fail_at = os.environ.get("ARENAKIT_TEST_FAIL", "-1:0").partition(":")
    real_batch = Trainer._train_batch

    def counted_batch(self, batch, weight):
        record["batches"] += 1
        if record["batches"] == stop_after:
            raise KeyboardInterrupt(f"simulated interruption at batch {stop_after}")
        if RANK == int(fail_rank) and record["batches"] == int(fail_at):
            raise RuntimeError(f"simulated failure in process {RANK}: CUDA out of memory")
        return real_batch(self, batch, weight)

    Trainer._train_batch = counted_batch


# -- for the tests: launching this worker ------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]


def command(data: Path, out: Path, backbone: Path | str, settings: dict, **extra) -> list[str]:
    """The training command's arguments: fold 0 of 3, these settings."""
    parameters = [f"{key}={value}" for key, value in {"backbone": str(backbone), **settings, **extra}.items()]
    args = ["lora", "--data-dir", str(data), "--out", str(out), "--n-folds", "3", "--folds", "0"]
    return args + [arg for parameter in parameters for arg in ("-p", parameter)]


def torchrun(args: list[str], log: Path | None = None, timeout: float = 300, **env) -> tuple[int, str, float]:
    """Run the worker in 2 processes; (exit code, output, seconds). A run past timeout is killed and fails the test."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT / "lib"), str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
        ),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        **({"ARENAKIT_TEST_LOG": str(log)} if log else {}),
        **env,
    }
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", __file__]
    started = time.perf_counter()
    process = subprocess.Popen(
        launcher + args,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a hung launch is killed with every worker
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import pytest

        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the 2-process launch hung past {timeout} s:\n{output[-3000:]}")
    return process.returncode, output, time.perf_counter() - started


def read_log(log: Path, rank: int, under: Path) -> dict:
    """A process's record (ARENAKIT_TEST_LOG), its writes limited to those under a folder."""
    record = json.loads((log / f"process_{rank}.json").read_text())
    return {**record, "writes": [path for path in record["writes"] if Path(path).is_relative_to(under)]}


if __name__ == "__main__":
    if "ARENAKIT_TEST_LOG" in os.environ:
        install_write_log(Path(os.environ["ARENAKIT_TEST_LOG"]))
    install_batch_hooks()
    from arenakit.train.__main__ import main

    sys.exit(main(sys.argv[1:]))
