"""build.py datasets: the wheels and weights folders, their manifests, the dirty-tree rule, backbone errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from arenakit import __version__ as VERSION
from arenakit.inputs.backbones import BACKBONE_MARKER, MINILM_HUB_NAME, find_staged_backbone, folder_name
from arenakit.inputs.formatting import FORMATTER_VERSION
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.manifest import require_clean, sha256, source_state
from build_helpers import OWNER, TINY_BACKBONE, build_py, isolated_env, shared_build
from conftest import REPO_ROOT


def test_datasets_hold_the_bundle_and_the_backbones_with_manifests(tmp_path_factory):
    shared = shared_build(tmp_path_factory)
    datasets = shared["build"] / "datasets"
    assert sorted(p.name for p in datasets.iterdir()) == ["arenakit-weights", "arenakit-wheels"]
    state = source_state(REPO_ROOT)
    for kind in ("wheels", "weights"):
        folder = datasets / f"arenakit-{kind}"
        metadata = json.loads((folder / "dataset-metadata.json").read_text())
        assert metadata["id"] == f"{OWNER}/arenakit-{kind}" and metadata["title"] == f"arenakit {kind}"
        assert len(metadata["licenses"]) == 1 and 6 <= len(metadata["title"]) <= 50
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["git_commit"] == state.commit and manifest["git_dirty"] == state.dirty
        assert manifest["arenakit_version"] == VERSION and manifest["formatter_version"] == FORMATTER_VERSION
        files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
        assert set(manifest["files"]) == set(files) - {"manifest.json", "dataset-metadata.json"}
        assert all(manifest["files"][name]["sha256"] == sha256(files[name]) for name in manifest["files"])
    wheels = datasets / "arenakit-wheels"
    marker = json.loads((wheels / "arenakit-wheels.json").read_text())
    assert sorted(p.name for p in wheels.glob("*.whl")) == sorted(marker["wheels"])
    # Backbones: MiniLM exported from its package, the tiny DeBERTa from the Hugging Face cache, each
    # found under an input root by its marker, as resolve_backbone does on Kaggle.
    weights = datasets / "arenakit-weights"
    assert sorted(p.name for p in weights.iterdir() if p.is_dir()) == sorted(
        [folder_name(MINILM_HUB_NAME), folder_name(TINY_BACKBONE)]
    )
    for name in (MINILM_HUB_NAME, TINY_BACKBONE):
        folder = find_staged_backbone(name, root=datasets)
        assert folder == weights / folder_name(name) and (folder / "config.json").is_file()
        assert json.loads((folder / BACKBONE_MARKER).read_text())["name"] == name
    assert (weights / folder_name(MINILM_HUB_NAME) / "model.safetensors").stat().st_size > 80_000_000
    # The cached DeBERTa has only spm.model: the staged copy gains a tokenizer.json that adds [CLS] and
    # [SEP] (transformers 5.0.0, the image's, converts spm.model without them).
    cached = next(Path(shared["env"]["HF_HOME"]).glob("hub/models--arenakit-tests--tiny-deberta/snapshots/*"))
    assert not (cached / "tokenizer.json").exists() and (weights / folder_name(TINY_BACKBONE) / "spm.model").is_file()
    tokens = Tokenizer.from_file(str(weights / folder_name(TINY_BACKBONE) / "tokenizer.json")).encode("the").tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"


def test_a_missing_default_backbone_is_a_note_and_an_asked_for_one_an_error(tmp_path_factory, tmp_path):
    shared = shared_build(tmp_path_factory)
    env = isolated_env(tmp_path)
    common = ["--wheels-dir", shared["wheels"], "--build-dir", tmp_path / "build", "--allow-dirty"]
    completed = build_py("datasets", *common, env=env, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "note: weights of microsoft/deberta-v3-small not found on this machine" in completed.stdout
    assert "hf download microsoft/deberta-v3-small" in completed.stdout
    assert "dataset your-kaggle-username/arenakit-weights:" in completed.stdout
    completed = build_py("datasets", *common, "--backbone", "org/absent-model", env=env, cwd=tmp_path)
    assert completed.returncode == 1
    assert "--backbone org/absent-model: not in the Hugging Face cache" in completed.stderr
    completed = build_py("datasets", *common, "--backbone", f"org/model={tmp_path / 'nowhere'}", env=env, cwd=tmp_path)
    assert completed.returncode == 1 and f"{tmp_path / 'nowhere'}: no config.json there" in completed.stderr
    completed = build_py(
        "datasets",
        "--wheels-dir",
        tmp_path / "none",
        "--build-dir",
        tmp_path / "b",
        "--allow-dirty",
        env=env,
        cwd=tmp_path,
    )
    assert (
        completed.returncode == 1
        and "no arenakit-wheels.json there; run `python build.py wheels` first" in completed.stderr
    )


def _git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True, capture_output=True
    )


def test_a_dirty_tree_is_refused_unless_allowed(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "commit", "-q", "-m", "first")
    clean = source_state(repo)
    assert len(clean.commit) == 40 and not clean.dirty
    require_clean(clean, allow_dirty=False)
    (repo / "a.py").write_text("x = 2\n")
    (repo / "new.py").write_text("")
    dirty = source_state(repo)
    assert dirty.dirty and dirty.changed == ("a.py", "new.py")
    with pytest.raises(BuildError, match=r"uncommitted changes \(a.py, new.py\): commit them .* or pass --allow-dirty"):
        require_clean(dirty, allow_dirty=False)
    require_clean(dirty, allow_dirty=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(BuildError, match="not a git checkout"):
        require_clean(source_state(outside), allow_dirty=False)
