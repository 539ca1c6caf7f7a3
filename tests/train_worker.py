"""One process of a torchrun launch of the training command, with the instruments the distributed tests read.

    torchrun --standalone --nproc_per_node 2 tests/train_worker.py lora --data-dir DATA --out RUN ...

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
import sys
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


if __name__ == "__main__":
    if "ARENAKIT_TEST_LOG" in os.environ:
        install_write_log(Path(os.environ["ARENAKIT_TEST_LOG"]))
    install_batch_hooks()
    from arenakit.train.__main__ import main

    sys.exit(main(sys.argv[1:]))
