"""A local Kaggle rehearsal: the submission kernel run against a fake /kaggle/input, in a fresh venv.

    results = rehearse(Path("build"), run_dir=Path("build/run"), data_dir=Path("build/run/data"))

For each mount layout, a fake input root gets what the built submission kernel's metadata mounts:
its competition (the data the training run used), its datasets (the built folders, less
dataset-metadata.json, which Kaggle does not upload; a trained-models dataset among them brings
its model folders), its kernel sources (each training notebook's outputs from the local run: its
model folder and the shared folds files) and its model sources (each Kaggle Model: this machine's
copy of the backbone the weights dataset maps it to, its files hard-linked rather than copied, so
a 9B backbone costs no gigabytes; copied only across file systems):

    flat:    <root>/<competition>/    <root>/<dataset-slug>/             <root>/<kernel-slug>/
             <root>/<model>/<framework>/<variation>/<version>/
    nested:  <root>/competitions/<competition>/  <root>/datasets/<owner>/<slug>/  <root>/notebooks/<owner>/<slug>/
             <root>/models/<owner>/<model>/<framework>/<variation>/<version>/

The root's folders are read-only, as on Kaggle. The built notebook then runs in a fresh working
folder, on a kernel whose python is a fresh venv that lacks the bundled packages, with
KAGGLE_KERNEL_RUN_TYPE set, ARENAKIT_KAGGLE_INPUT pointing at the root and an empty Hugging Face
cache: it has to install arenakit from the wheels dataset and find everything by marker files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from arenakit.core import COMPETITION_FILES, KAGGLE_INPUT_ENV, METRICS_FILE, SUBMISSION_FILE
from arenakit.data import FOLDS_FILE, FOLDS_META_FILE
from arenakit.ensemble import is_model_folder
from arenakit.inputs import BackboneNotFound, kaggle_model_mounts, read_kaggle_models, resolve_backbone
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.bootstrap import WHEELS_MARKER
from arenakit.kaggle_build.built import DATASET_METADATA, KERNEL_METADATA, built_folder, carried_models, read_built
from arenakit.kaggle_build.image_venv import image_like_venv
from arenakit.kaggle_build.runner import run_notebook

LAYOUTS = ("flat", "nested")
KERNEL_NAME = "arenakit-rehearsal"
SHARED_RUN_FILES = (FOLDS_FILE, FOLDS_META_FILE)  # every training kernel writes these beside its model folder


@dataclass(frozen=True)
class RehearsalResult:
    layout: str
    root: Path
    working: Path
    seconds: float
    submission_rows: int
    arenakit_location: str


def mount_point(layout: str, root: Path, kind: str, ref: str) -> Path:
    """Where Kaggle mounts a source: kind is "competitions", "datasets" or "notebooks"; ref is [owner/]slug."""
    owner, _, slug = ref.rpartition("/")
    if layout == "flat":
        return root / slug
    return root / kind / owner / slug if owner else root / kind / slug


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(DATASET_METADATA))
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def lay_out_input(root: Path, layout: str, metadata: dict, build_dir: Path, run_dir: Path, data_dir: Path) -> list[str]:
    """Fill a fake input root with what a kernel's metadata mounts (see the module doc); return the models mounted."""
    datasets, kernels = read_built(build_dir, "datasets"), read_built(build_dir, "kernels")
    for competition in metadata.get("competition_sources", []):
        for name in COMPETITION_FILES:
            _copy(data_dir / name, mount_point(layout, root, "competitions", competition) / name)
    for ref in metadata.get("dataset_sources", []):
        if ref not in datasets:
            raise BuildError(
                f"dataset {ref} (a source of {metadata['id']}) is not built: run `python build.py datasets`"
            )
        _copy(datasets[ref][0], mount_point(layout, root, "datasets", ref))
    _mount_kaggle_models(root, layout, metadata, [datasets[ref][0] for ref in metadata.get("dataset_sources", [])])
    models = [name for ref in metadata.get("dataset_sources", []) for name in carried_models(datasets[ref][0])]
    for ref in metadata.get("kernel_sources", []):
        if ref not in kernels:
            raise BuildError(f"kernel {ref} (a source of {metadata['id']}) is not built: run `python build.py kernels`")
        name = kernels[ref][0].name
        output = mount_point(layout, root, "notebooks", ref)
        if not is_model_folder(run_dir / name):
            raise BuildError(
                f"{run_dir / name}: no outputs of the {name} notebook there; run `python build.py run` "
                f"(or pass --run-dir, the folder it wrote)"
            )
        _copy(run_dir / name, output / name)
        for shared in SHARED_RUN_FILES:
            if (run_dir / shared).is_file():
                _copy(run_dir / shared, output / shared)
        models.append(name)
    return models


def _mount_kaggle_models(root: Path, layout: str, metadata: dict, dataset_folders: list[Path]) -> None:
    """Each Kaggle Model of model_sources at its mount point: this machine's copy of its backbone, hard-linked."""
    names = {handle: name for folder in dataset_folders for name, handle in read_kaggle_models(folder).items()}
    for handle in metadata.get("model_sources", []):
        if handle not in names:
            raise BuildError(
                f"{metadata['id']} mounts the Kaggle Model {handle}, but no built weights dataset maps a backbone "
                f"to it: build the datasets again with --backbone NAME=kaggle:{handle}, then the kernels"
            )
        try:
            local = resolve_backbone(names[handle])
        except BackboneNotFound:
            raise BuildError(
                f"the rehearsal mounts the Kaggle Model {handle} from this machine's copy of {names[handle]}, and "
                f"there is none: download it (`hf download {names[handle]}`) so the rehearsal can stand in for Kaggle"
            ) from None
        flat, nested = kaggle_model_mounts(handle, root)
        shutil.copytree(local, flat if layout == "flat" else nested, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    """A hard link to the file (a Hugging Face cache's snapshot link is followed to its blob), else a copy."""
    try:
        os.link(os.path.realpath(source), target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def check_every_model_used(working: Path, submission: str, models: list[str]) -> None:
    """The submission notebook records the models it blended and why it left any out: all must be used."""
    metrics_path = working / submission / METRICS_FILE
    if not metrics_path.is_file():
        raise BuildError(
            f"the {submission} notebook wrote no {metrics_path.relative_to(working)}: which models it used is unknown"
        )
    metrics = json.loads(metrics_path.read_text())
    missing = [name for name in models if name not in metrics.get("models", [])]
    if missing:
        reasons = metrics.get("left_out", {})
        raise BuildError(
            f"the {submission} notebook left out {', '.join(missing)} on the fake Kaggle input: "
            + "; ".join(f"{name}: {reasons.get(name, 'no reason recorded')}" for name in missing)
            + ". Rebuild the wheels after changing the library (`python build.py wheels`) and rerun "
            "the training notebooks, so both come from the same code."
        )


def _set_directories_writable(root: Path, writable: bool) -> None:
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(0o755 if writable else 0o555)


def _check_installable_here(wheels: list[Path]) -> None:
    """The rehearsal installs the bundle into a venv of this Python: every wheel must suit it."""
    here = set(sys_tags())
    foreign = [p.name for p in wheels if not set(parse_wheel_filename(p.name)[3]) & here]
    if foreign:
        raise BuildError(
            f"the wheels dataset holds wheels this Python cannot install ({', '.join(foreign)}): for a "
            f"rehearsal, build the bundle for this Python (`python build.py wheels --python-version "
            f"{sys.version_info.major}.{sys.version_info.minor} --out DIR`, then `python build.py datasets "
            f"--wheels-dir DIR`)"
        )


@contextmanager
def _kernel_spec(folder: Path, python: Path, env: dict):
    """A jupyter kernel running `python` with `env`, visible to papermill while the block runs."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "arenakit rehearsal",
                "language": "python",
                "env": env,
            }
        )
    )
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), previous]))
    try:
        yield KERNEL_NAME
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH")
        else:
            os.environ["JUPYTER_PATH"] = previous


def rehearse_layout(
    layout: str, work_dir: Path, build_dir: Path, run_dir: Path, data_dir: Path, submission: str
) -> RehearsalResult:
    kernel_dir = built_folder(build_dir, "kernels", submission)
    if not (kernel_dir / KERNEL_METADATA).is_file():
        raise BuildError(f"{kernel_dir}: the submission kernel is not built; run `python build.py kernels`")
    metadata = json.loads((kernel_dir / KERNEL_METADATA).read_text())
    base = Path(work_dir) / layout
    if base.exists():
        _set_directories_writable(base, True)
        shutil.rmtree(base)
    root, working = base / "input", base / "working"
    models = lay_out_input(root, layout, metadata, build_dir, run_dir, data_dir)
    _set_directories_writable(root, False)
    python = image_like_venv(base / "venv", hide=_bundled_distributions(root, metadata["id"]))
    env = {
        "KAGGLE_KERNEL_RUN_TYPE": "Batch",
        KAGGLE_INPUT_ENV: str(root),
        "PYTHONPATH": "",
        "PYTHONNOUSERSITE": "1",
        "HF_HOME": str(base / "hf-home"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ARENAKIT_CACHE": str(base / "cache"),
    }
    working.mkdir(parents=True)
    started = time.perf_counter()
    with _kernel_spec(base / "jupyter", python, env) as kernel:
        run_notebook(kernel_dir / metadata["code_file"], working, {}, kernel=kernel)
    seconds = time.perf_counter() - started
    if not (working / SUBMISSION_FILE).is_file():
        raise BuildError(f"the {submission} notebook ran in {working} but wrote no {SUBMISSION_FILE}")
    check_every_model_used(working, submission, models)
    rows = sum(1 for _ in (working / SUBMISSION_FILE).open()) - 1
    return RehearsalResult(layout, root, working, seconds, rows, _arenakit_location(python, env, base / "venv"))


def _bundled_distributions(root: Path, kernel_id: str) -> set[str]:
    """The names of the wheels mounted under root; each must install on this Python."""
    if not any(root.rglob(WHEELS_MARKER)):
        raise BuildError(f"no wheels dataset among the sources of {kernel_id}: its bootstrap would find nothing")
    wheels = list(root.rglob("*.whl"))
    _check_installable_here(wheels)
    return {str(parse_wheel_filename(p.name)[0]) for p in wheels}


def _arenakit_location(python: Path, env: dict, venv: Path) -> str:
    """Where the venv imports arenakit from: it must be the copy the bootstrap cell installed."""
    location = subprocess.run(
        [str(python), "-c", "import arenakit; print(arenakit.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    ).stdout.strip()
    if not location.startswith(str(venv)):
        raise BuildError(
            f"the rehearsal imported arenakit from {location or 'nowhere'}, not from the wheels the "
            f"bootstrap cell installed into {venv}"
        )
    return location


def rehearse(
    build_dir: Path, run_dir: Path, data_dir: Path, submission: str, work_dir: Path, layouts=LAYOUTS
) -> list[RehearsalResult]:
    for name in COMPETITION_FILES:
        if not (Path(data_dir) / name).is_file():
            raise BuildError(f"{data_dir}: no {name}; pass --data-dir, the competition folder the training run used")
    return [rehearse_layout(layout, work_dir, build_dir, run_dir, data_dir, submission) for layout in layouts]
