"""build.py push: the real kaggle CLI against a loopback stub of the Kaggle API that records every request."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from arenakit import __version__ as VERSION
from arenakit.inputs.backbones import BACKBONE_MARKER, MINILM_HUB_NAME, folder_name
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.bootstrap import WHEELS_MARKER
from arenakit.kaggle_build.cli import KaggleCli
from arenakit.kaggle_build.kernel_log import SOURCE_LINES, read_failure
from build_helpers import FAKE_KEY, OWNER, build_py, check, isolated_env, papermill_failure_log, shared_build
from kaggle_stub import KaggleStub

KERNEL_ORDER = ["baseline", "minilm_lgbm", "deberta_lora", "ensemble"]


def _kernel_names(build_dir):
    return [name for name in KERNEL_ORDER if (build_dir / "kernels" / name).is_dir()]


def _ref(name):
    return f"{OWNER}/arenakit-{name.replace('_', '-')}"


def test_dry_run_prints_the_commands_in_dependency_order(tmp_path_factory, tmp_path):
    build = shared_build(tmp_path_factory)["build"]
    completed = check(
        build_py("push", "--dry-run", "--submit", "--build-dir", build, env=isolated_env(tmp_path), cwd=tmp_path)
    )
    commands = [line for line in completed.stdout.splitlines() if line.startswith("kaggle ")]
    datasets = build / "datasets"
    commit = json.loads((datasets / "arenakit-wheels" / "manifest.json").read_text())["git_commit"][:12]
    for index, kind in ((0, "weights"), (3, "wheels")):
        assert commands[index : index + 3] == [
            f"kaggle datasets status {OWNER}/arenakit-{kind}",
            commands[index + 1],
            f"kaggle datasets create -p {datasets / f'arenakit-{kind}'} --dir-mode zip",
        ]
        assert commands[index + 1].startswith(
            f"kaggle datasets version -p {datasets / f'arenakit-{kind}'} --dir-mode zip -m 'arenakit {VERSION} at {commit}"
        )
    pushes = [line.rsplit("/", 1)[-1] for line in commands if line.startswith("kaggle kernels push")]
    assert pushes == _kernel_names(build)
    submission = pushes[-1]
    # The submission kernel goes after every training kernel has finished, and is then submitted.
    last_push = commands.index(f"kaggle kernels push -p {build / 'kernels' / submission}")
    waits = [line for line in commands[:last_push] if line.startswith("kaggle kernels status")]
    assert waits == [f"kaggle kernels status {_ref(name)}" for name in pushes[:-1]]
    assert commands[-1] == (
        f"kaggle competitions submit llm-classification-finetuning -k {_ref(submission)} -v N "
        f"-f submission.csv -m '{_ref(submission)} version N'"
    )


def test_push_with_the_real_cli_sends_what_was_built(tmp_path_factory, tmp_path):
    build = shared_build(tmp_path_factory)["build"]
    names = _kernel_names(build)
    training, submission = names[:-1], names[-1]
    env = isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY)
    states = {_ref(training[0]): ["RUNNING", "RUNNING", "COMPLETE"]}  # push polls until it has finished
    with KaggleStub(existing_datasets={f"{OWNER}/arenakit-wheels"}, kernel_states=states) as stub:
        completed = build_py(
            "push", "--build-dir", build, "--submit", "--poll-seconds", 0, env={**env, **stub.env}, cwd=tmp_path
        )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    rpcs = stub.rpcs()

    # The wheels dataset exists: a new version; the weights dataset does not: created. Both upload
    # every file, and each folder (a backbone) as one zip.
    (version,) = stub.bodies("CreateDatasetVersion")
    assert (version["ownerSlug"], version["datasetSlug"]) == (OWNER, "arenakit-wheels")
    wheels_dir = build / "datasets" / "arenakit-wheels"
    assert version["body"]["versionNotes"].startswith(f"arenakit {VERSION} at ")
    tokens = [f["token"] for f in version["body"]["files"]]
    assert stub.uploaded_names(tokens) == sorted(
        p.name for p in wheels_dir.iterdir() if p.name != "dataset-metadata.json"
    )
    assert WHEELS_MARKER in stub.uploaded_names(tokens)
    (created,) = stub.bodies("CreateDataset")
    assert {k: created[k] for k in ("ownerSlug", "slug", "title", "licenseName", "isPrivate")} == {
        "ownerSlug": OWNER,
        "slug": "arenakit-weights",
        "title": "arenakit weights",
        "licenseName": "other",
        "isPrivate": True,
    }
    tokens = [f["token"] for f in created["files"]]
    minilm_zip = f"{folder_name(MINILM_HUB_NAME)}.zip"
    assert minilm_zip in stub.uploaded_names(tokens) and "manifest.json" in stub.uploaded_names(tokens)
    upload = next(u for t, u in stub.uploads.items() if t in tokens and u["name"] == minilm_zip)
    with zipfile.ZipFile(io.BytesIO(upload["data"])) as archive:
        assert {BACKBONE_MARKER, "config.json", "model.safetensors"} <= set(archive.namelist())

    # Kernels: training first, the submission last, each as built, internet off.
    saved = stub.bodies("SaveKernel")
    assert [body["slug"] for body in saved] == [_ref(name) for name in names]
    for name, body in zip(names, saved):
        metadata = json.loads((build / "kernels" / name / "kernel-metadata.json").read_text())
        assert body["enableInternet"] is False and body["newTitle"] == metadata["title"]
        assert body.get("enableGpu", False) is metadata["enable_gpu"]
        assert body.get("machineShape") == metadata.get("machine_shape")
        assert body["datasetDataSources"] == [f"{OWNER}/arenakit-wheels", f"{OWNER}/arenakit-weights"]
        assert body["competitionDataSources"] == ["llm-classification-finetuning"]
        assert body.get("kernelDataSources", []) == ([_ref(n) for n in training] if name == submission else [])
        cells = json.loads(body["text"])["cells"]
        assert next(c for c in cells if c["cell_type"] == "code")["metadata"]["tags"] == ["arenakit-bootstrap"]
    assert saved[0].get("enableGpu", False) is False and "machineShape" not in saved[0]  # the baseline runs on a CPU
    assert saved[-1]["machineShape"] == "NvidiaTeslaT4"

    # Waits: datasets ready before the first kernel, training kernels complete before the submission.
    first_kernel = rpcs.index("SaveKernel")
    submission_push = len(rpcs) - 1 - rpcs[::-1].index("SaveKernel")
    polled = [b["kernelSlug"] for b in stub.bodies("GetKernelSessionStatus")]
    assert polled[: len(training) + 2] == [_ref(training[0]).split("/")[1]] * 3 + [
        _ref(n).split("/")[1] for n in training[1:]
    ]
    assert rpcs[first_kernel - 2 : first_kernel] == ["GetDatasetStatus", "GetDatasetStatus"]
    assert rpcs[submission_push - 1] == "GetKernelSessionStatus"
    (submit,) = stub.bodies("CreateCodeSubmission")
    assert submit == {
        "competitionName": "llm-classification-finetuning",
        "kernelOwner": OWNER,
        "kernelSlug": _ref(submission).split("/")[1],
        "kernelVersion": 1,
        "fileName": "submission.csv",
        "submissionDescription": f"{_ref(submission)} version 1",
    }
    assert "waiting for kernel" in completed.stdout and f"pushed {_ref(submission)} version 1" in completed.stdout

    # Credentials reached the API from the environment only, and no built file holds them.
    assert all(h.get("Authorization", "").startswith("Basic ") for h in stub.headers)
    leaked = [p for p in build.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert leaked == [] and FAKE_KEY not in json.dumps(stub.calls)


def test_push_refuses_the_placeholder_owner_and_reports_cli_errors(tmp_path_factory, tmp_path):
    env = isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY)
    placeholder = tmp_path / "placeholder"
    check(
        build_py(
            "kernels",
            "--build-dir",
            placeholder,
            env={k: v for k, v in env.items() if k != "KAGGLE_USERNAME"},
            cwd=tmp_path,
        )
    )
    completed = build_py("push", "--build-dir", placeholder, env=env, cwd=tmp_path)
    assert completed.returncode == 1 and "set your Kaggle user name" in completed.stderr
    # The CLI prints a failed kernel push and exits 0: push still stops, with the CLI's words.
    with KaggleStub(kernel_push_error="Notebook not found") as stub:
        completed = build_py(
            "push",
            "--build-dir",
            shared_build(tmp_path_factory)["build"],
            "--only",
            "baseline",
            env={**env, **stub.env},
            cwd=tmp_path,
        )
    assert completed.returncode == 1
    assert "`kaggle kernels push` failed (exit 0): Kernel push error: Notebook not found" in completed.stderr
    assert stub.rpcs() == ["SaveKernel"]


@pytest.fixture(scope="module")
def failure_log(tmp_path_factory):
    """What Kaggle logs for a notebook whose third code cell raises: a real papermill run's output as stream records."""
    return papermill_failure_log(tmp_path_factory.mktemp("papermill-failure"), failing_cell=3)


def _cell_lines(notebook, count):
    """The lines of code cell `count` (1-based) of a notebook, as the failure report quotes them."""
    code = [cell for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]
    lines = "".join(code[count - 1]["source"]).splitlines()
    return [f"    | {line}" for line in lines[:SOURCE_LINES]] + (["    | ..."] if len(lines) > SOURCE_LINES else [])


def test_a_failed_kernel_prints_its_failing_cell_and_the_end_of_its_log(tmp_path_factory, tmp_path, failure_log):
    build = shared_build(tmp_path_factory)["build"]
    env = isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY)
    baseline, submission = _ref("baseline"), _kernel_names(build)[-1]
    with KaggleStub(
        kernel_states={baseline: ["RUNNING", "ERROR"]},
        kernel_failures={baseline: "Your notebook hit an error"},
        kernel_logs={baseline: failure_log},
        kernel_files={baseline: {"baseline/oof.csv": b"id\n"}},
    ) as stub:
        completed = build_py(
            "push",
            "--build-dir",
            build,
            "--only",
            "baseline",
            submission,
            "--poll-seconds",
            0,
            env={**env, **stub.env},
            cwd=tmp_path,
        )
    assert completed.returncode == 1
    log = build / "logs" / "arenakit-baseline.log"
    assert log.read_text() == failure_log
    report = "\n".join(
        [
            "failing cell: In [3], line 2 (code cell 3 of the pushed notebook):",
            *_cell_lines(build / "kernels" / "baseline" / "baseline.ipynb", 3),
            "error: ValueError: boom after 3 rows",
            "last 25 lines of the log:",
        ]
    )
    assert (
        f"{baseline}: Kaggle says: Your notebook hit an error\n{baseline} failed on Kaggle:\nlog: {log}\n{report}"
        in (completed.stdout)
    )
    assert completed.stdout.rstrip().endswith("    ValueError: boom after 3 rows")
    assert completed.stderr.strip() == (
        f"build.py push: kernel {baseline} is error on Kaggle in cell In [3]: ValueError: boom after 3 rows "
        f"(the log is in {log}; its end is printed above); fix it and push again"
    )
    # Only the log came down, through `kaggle kernels logs`, not the kernel's output files (a training
    # kernel's can be gigabytes); the submission kernel, which mounts the failed one, was not pushed.
    assert stub.log_reads() == [baseline] and stub.output_listings() == [] and stub.downloads == []
    assert [body["slug"] for body in stub.bodies("SaveKernel")] == [baseline]


def test_the_log_reader_on_colour_codes_and_plain_tracebacks(tmp_path, failure_log):
    log = tmp_path / "k.log"
    coloured = json.dumps(
        [
            {"stream_name": "stdout", "time": 1.0, "data": "loading\n"},
            {"stream_name": "stderr", "time": 2.0, "data": "\x1b[0;31mKeyError\x1b[0m Traceback\n"},
            {"stream_name": "stderr", "time": 2.1, "data": "Cell \x1b[0;32mIn[5], line 7\x1b[0m\n"},
            {"stream_name": "stderr", "time": 2.2, "data": "\x1b[0;31mKeyError\x1b[0m: 'label'\n"},
        ]
    )
    log.write_text(coloured)
    failure = read_failure(log, tail=2)
    assert (failure.cell, failure.line, failure.error) == (5, 7, "KeyError: 'label'")
    assert failure.tail == ["Cell In[5], line 7", "KeyError: 'label'"] and failure.source is None
    log.write_text("plain text, no JSON\nRuntimeError: CUDA out of memory\n")
    failure = read_failure(log)
    assert (failure.cell, failure.error) == (None, "RuntimeError: CUDA out of memory")
    assert "failing cell" not in failure.describe() and failure.describe().startswith(
        f"log: {log}\nerror: RuntimeError"
    )
    log.write_text(failure_log)
    assert (read_failure(log).cell, read_failure(log).line) == (3, 2)


def test_status_shows_each_built_dataset_and_kernel_and_why_a_kernel_failed(tmp_path_factory, tmp_path, failure_log):
    build = shared_build(tmp_path_factory)["build"]
    names = _kernel_names(build)
    env = isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY)
    baseline = _ref("baseline")
    with KaggleStub(
        existing_datasets={f"{OWNER}/arenakit-wheels"},
        kernel_states={baseline: ["ERROR"], _ref(names[1]): ["RUNNING"]},
        kernel_failures={baseline: "Your notebook hit an error"},
        kernel_logs={baseline: failure_log},
        missing_kernels={_ref(name) for name in names[2:]},
    ) as stub:
        completed = check(build_py("status", "--build-dir", build, env={**env, **stub.env}, cwd=tmp_path))
    lines = completed.stdout.splitlines()
    rows = [re.split(r"\s{2,}", line.rstrip()) for line in lines[: 3 + len(names)]]
    assert rows == [
        ["kind", "name", "ref", "status", "message"],
        ["dataset", "arenakit-weights", f"{OWNER}/arenakit-weights", "not pushed"],
        ["dataset", "arenakit-wheels", f"{OWNER}/arenakit-wheels", "ready"],
        ["kernel", "baseline", baseline, "error", "Your notebook hit an error"],
        ["kernel", names[1], _ref(names[1]), "running"],
        *[["kernel", name, _ref(name), "not pushed"] for name in names[2:]],
    ]
    assert "failing cell: In [3], line 2 (code cell 3 of the pushed notebook):" in completed.stdout
    assert lines[-1] == (
        f"kernel {baseline} is error in cell In [3]: ValueError: boom after 3 rows "
        f"(the log is in {build / 'logs' / 'arenakit-baseline.log'}; its end is printed above)"
    )
    assert stub.log_reads() == [baseline] and stub.output_listings() == [] and "SaveKernel" not in stub.rpcs()


def test_a_kernels_log_comes_through_kaggle_kernels_logs(tmp_path, failure_log):
    """The real CLI against the stub: `kaggle kernels logs` reads the log alone; an error in it is not a CLI error."""
    env = isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY)
    failed, quiet, gone = _ref("baseline"), _ref("ensemble"), _ref("minilm_lgbm")
    with KaggleStub(
        kernel_logs={failed: failure_log},
        kernel_files={failed: {"baseline/oof.csv": b"id\n"}},
        missing_kernels={gone},
    ) as stub:
        cli = KaggleCli({**env, **stub.env})
        logs = tmp_path / "logs"
        (logs / "arenakit-ensemble.log").parent.mkdir()
        (logs / "arenakit-ensemble.log").write_text("an older run's log")
        assert cli.kernel_log(failed, logs).read_text() == failure_log
        assert cli.kernel_log(quiet, logs) is None and not (logs / "arenakit-ensemble.log").exists()
        with pytest.raises(BuildError, match=rf"`kaggle kernels logs {gone}` failed \(exit 1\): Not found"):
            cli.kernel_log(gone, logs)
    assert stub.log_reads() == [failed, quiet, gone] and stub.output_listings() == [] and stub.downloads == []
