"""Kaggle Models as backbones: --backbone NAME=kaggle:HANDLE, model_sources through the real CLI, resolve_backbone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version
from transformers import AutoConfig, Gemma2Config

from arenakit.inputs.backbones import KAGGLE_MODELS_FILE, BackboneNotFound, resolve_backbone
from arenakit.kaggle_build import BuildError
from arenakit.kaggle_build.cli import KaggleCli
from arenakit.kaggle_build.push import MODEL_SOURCES_CLI, Pusher, plan
from arenakit.kaggle_build.weights import BackboneSource, backbone_sources, write_kaggle_models
from build_helpers import FAKE_KEY, OWNER, build_py, check, isolated_env, shared_build
from conftest import REPO_ROOT
from kaggle_stub import KaggleStub

NAME = "google/gemma-2-9b-it"
HANDLE = "google/gemma-2/transformers/gemma-2-9b-it/2"


# The dimensions of google/gemma-2-9b-it's config.json (transformers' Gemma2Config defaults are the 2B's).
GEMMA2_9B = dict(
    hidden_size=3584,
    intermediate_size=14336,
    num_hidden_layers=42,
    num_attention_heads=16,
    num_key_value_heads=8,
    head_dim=256,
    vocab_size=256000,
)


def _gemma2_9b_config(folder: Path) -> Path:
    """The config.json of Gemma-2-9B: a mounted model's files without its 18 GB of weights, which resolving
    does not read."""
    Gemma2Config(**GEMMA2_9B).save_pretrained(folder)
    return folder


def _input_root(tmp_path: Path, handle: str = HANDLE) -> Path:
    """A fake /kaggle/input whose weights dataset (nested layout) maps NAME to handle."""
    root = tmp_path / "input"
    weights = root / "datasets" / OWNER / "arenakit-weights"
    weights.mkdir(parents=True)
    write_kaggle_models([BackboneSource(NAME, None, True, kaggle_handle=handle)], weights)
    return root


@pytest.mark.parametrize(
    "mount",
    ["gemma-2/transformers/gemma-2-9b-it/2", "models/google/gemma-2/transformers/gemma-2-9b-it/2"],
    ids=["flat", "nested"],
)
def test_resolve_backbone_finds_the_mounted_kaggle_model_in_both_layouts(tmp_path, monkeypatch, mount):
    # The handle as a model page may spell it (capitalised framework); Kaggle mounts it in lower case.
    root = _input_root(tmp_path, HANDLE.replace("transformers", "Transformers"))
    folder = _gemma2_9b_config(root / mount)
    monkeypatch.setenv("ARENAKIT_KAGGLE_INPUT", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_backbone(NAME) == folder
    config = AutoConfig.from_pretrained(resolve_backbone(NAME))
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("gemma2", 42, 3584)


def test_the_readme_states_the_adapter_size_of_gemma2_9b_at_r64():
    """2 x r x (d_in + d_out) bytes per adapted Linear (fp16), over the 7 projections of all 42 layers."""
    config, r = Gemma2Config(**GEMMA2_9B), 64
    d, mlp = config.hidden_size, config.intermediate_size
    q, kv = config.num_attention_heads * config.head_dim, config.num_key_value_heads * config.head_dim
    per_layer = (d + q) + 2 * (d + kv) + (q + d) + 3 * (d + mlp)  # q, k and v, o, gate, up and down
    weights = r * per_layer * config.num_hidden_layers
    assert (per_layer, weights) == (80_384, 216_072_192)
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    for figure in (
        f"{per_layer:,} in all",
        f"{weights / 1e6:.0f} million",
        f"{2 * weights / 1e6:.0f} MB",
        f"{4 * weights / 1e6:.0f} MB",
    ):
        assert figure in readme


def test_a_kaggle_model_that_is_not_mounted_or_has_no_config_is_named(tmp_path, monkeypatch):
    root = _input_root(tmp_path)
    monkeypatch.setenv("ARENAKIT_KAGGLE_INPUT", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneNotFound) as error:
        resolve_backbone(NAME)
    flat, nested = (
        root / "gemma-2/transformers/gemma-2-9b-it/2",
        root / "models/google/gemma-2/transformers/gemma-2-9b-it/2",
    )
    assert str(error.value).startswith(
        f"backbone {NAME!r} is the Kaggle Model {HANDLE} "
        f"({root / 'datasets' / OWNER / 'arenakit-weights' / KAGGLE_MODELS_FILE}), but it is not mounted: "
        f"looked in {flat} and {nested}. Add {HANDLE} to the kernel's model_sources"
    )
    nested.mkdir(parents=True)
    (nested / "model.safetensors").write_bytes(b"")
    with pytest.raises(BackboneNotFound, match=r"holds no config.json \(it holds model.safetensors\); choose"):
        resolve_backbone(NAME)
    # A name the map does not hold is looked for as before, and the message says how to map it.
    with pytest.raises(BackboneNotFound, match=r"acme/other=kaggle:OWNER/MODEL/FRAMEWORK/VARIATION/VERSION"):
        resolve_backbone("acme/other")


def test_a_bad_kaggle_model_handle_is_refused_before_anything_is_built():
    for handle in ("google/gemma-2/9b", "google/gemma-2/transformers/gemma-2-9b-it/latest"):
        with pytest.raises(BuildError, match=rf"--backbone {NAME}=kaggle:{handle}: Kaggle Model handle .* expected "):
            backbone_sources([f"{NAME}=kaggle:{handle}"])
    (source,) = [s for s in backbone_sources([f"{NAME}=kaggle:{HANDLE}"]) if s.name == NAME]
    assert (source.path, source.kaggle_handle, source.explicit) == (None, HANDLE, True)


def test_kaggle_model_backbones_reach_model_sources_and_the_real_cli(tmp_path_factory, tmp_path, monkeypatch):
    shared = shared_build(tmp_path_factory)
    build, env = tmp_path / "build", isolated_env(tmp_path, KAGGLE_USERNAME=OWNER, KAGGLE_KEY=FAKE_KEY)
    common = ["--build-dir", build, "--wheels-dir", shared["wheels"], "--allow-dirty"]
    completed = check(build_py("datasets", *common, "--backbone", f"{NAME}=kaggle:{HANDLE}", env=env, cwd=tmp_path))
    assert f"note: {NAME}: the Kaggle Model {HANDLE}, attached by the kernels, not uploaded" in completed.stdout
    weights = build / "datasets" / "arenakit-weights"
    assert json.loads((weights / KAGGLE_MODELS_FILE).read_text()) == {NAME: HANDLE}
    assert not any(NAME.split("/")[1] in p.name for p in weights.iterdir())  # no weights uploaded for it
    completed = check(build_py("kernels", "--build-dir", build, env=env, cwd=tmp_path))
    assert f"attaches the Kaggle Models {HANDLE}" in completed.stdout
    sources = {
        p.name: json.loads((p / "kernel-metadata.json").read_text())["model_sources"]
        for p in (build / "kernels").iterdir()
    }
    # The LoRA notebook (its header says so) and the submission load backbones; the others never mount them.
    assert sources == {"baseline": [], "minilm_lgbm": [], "deberta_lora": [HANDLE], "ensemble": [HANDLE]}

    # The pinned CLI accepts the 5-part handle (1.8.3 refused it) and sends it as Kaggle expects.
    with KaggleStub() as stub:
        check(build_py("push", "--build-dir", build, "--only", "ensemble", env={**env, **stub.env}, cwd=tmp_path))
    (saved,) = stub.bodies("SaveKernel")
    assert saved["slug"] == f"{OWNER}/arenakit-ensemble" and saved["modelDataSources"] == [HANDLE]

    # A CLI older than the fix stops the push before anything is sent, saying what to install.
    monkeypatch.setattr(KaggleCli, "version", lambda self: Version("1.8.3"))
    with pytest.raises(BuildError, match=r"kaggle CLI 1.8.3 refuses or mangles .* issue 900, fixed in 1.8.4\): "):
        Pusher().push(plan(build, ["ensemble"]))
    assert MODEL_SOURCES_CLI == Version("1.8.4")
