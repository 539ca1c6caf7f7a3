"""The package boundaries: what a Kaggle kernel imports, and the public names tooling may use.

(The layers themselves, no upward import, are checked by `lint-imports` in .ci/run against the
contract in pyproject.toml.)
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).parents[1] / "lib"
PACKAGE = LIB / "arenakit"
# Tooling a submission kernel must never load: notebook running, the kaggle CLI, building and benchmarks.
TOOLING = ("papermill", "kaggle", "nbformat", "jupytext", "nbconvert", "arenakit.kaggle_build", "arenakit.bench")
TOOLING_USERS = ("bench", "kaggle_build")


def test_a_kernel_importing_models_ensemble_and_submission_loads_no_tooling():
    code = (
        "import json, sys\n"
        "import arenakit.models, arenakit.ensemble, arenakit.evaluation.submission\n"
        "from arenakit.models import BaselineModel, CrossEncoderClassifier, MiniLMLightGBMModel, SiameseClassifier\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(LIB)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "arenakit.ensemble.run" in loaded and "arenakit.models.lora.cross_encoder" in loaded  # it did import them
    found = [name for name in loaded if any(name == t or name.startswith(f"{t}.") for t in TOOLING)]
    assert found == []


def packages() -> list[str]:
    return sorted(
        ".".join(init.parent.relative_to(LIB).parts)
        for init in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in init.parts
    )


def declared_all(package: str) -> list[str] | None:
    """The package's __all__, read from its __init__.py without importing it (None when it has none)."""
    tree = ast.parse((LIB / package.replace(".", "/") / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


@pytest.mark.parametrize("package", packages())
def test_every_package_lists_its_public_names_and_they_exist(package):
    names = declared_all(package)
    assert names, f"{package}/__init__.py has no __all__: list its public names"
    module = importlib.import_module(package)
    for name in names:
        # A name is defined (or, for the model classes, imported on first use) or is a submodule.
        assert hasattr(module, name) or importlib.util.find_spec(f"{package}.{name}"), f"{package}: {name}"


def imports_outside_own_package(user: str):
    """(file, line, module, name) for each `from arenakit.X import name` in arenakit.<user> with X outside it."""
    for path in sorted((PACKAGE / user).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("arenakit.") and not alias.name.startswith(f"arenakit.{user}"):
                        yield path.relative_to(LIB), node.lineno, alias.name, "(import of a module)"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "arenakit":
                if node.module == f"arenakit.{user}" or node.module.startswith(f"arenakit.{user}."):
                    continue
                for alias in node.names:
                    yield path.relative_to(LIB), node.lineno, node.module, alias.name


@pytest.mark.parametrize("user", TOOLING_USERS)
def test_tooling_uses_only_the_names_packages_export(user):
    """bench/ and kaggle_build/ import from a package, and only names its __all__ holds."""
    all_packages = set(packages())
    wrong = []
    for path, line, module, name in imports_outside_own_package(user):
        exported = declared_all(module) if module in all_packages else None
        if exported is None or name not in exported:
            wrong.append(f"{path}:{line}: from {module} import {name}")
    assert wrong == [], "import these from a package that exports them (its __init__'s __all__):\n" + "\n".join(wrong)
