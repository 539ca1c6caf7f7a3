# arenakit bootstrap: install the kit offline on Kaggle, before anything imports it.
# This cell is lib/arenakit/kaggle_build/bootstrap.py, copied by `python build.py pair` into every notebook;
# edit it there. On Kaggle (or with ARENAKIT_BOOTSTRAP=1) it finds the wheels dataset under the input root by
# its marker file and installs the bundled wheels with pip, without the internet; locally it does nothing
# when arenakit is importable. It uses the standard library only: arenakit is not installed yet.
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

WHEELS_MARKER = "arenakit-wheels.json"


def install_bundled_wheels(depth=4):
    """Install every wheel of the first folder under the input root that holds WHEELS_MARKER."""
    on_kaggle = "KAGGLE_KERNEL_RUN_TYPE" in os.environ or os.environ.get("ARENAKIT_BOOTSTRAP") == "1"
    if not on_kaggle and importlib.util.find_spec("arenakit") is not None:
        return None
    # The same search as arenakit.core.paths.iter_input_dirs (not importable yet): shallowest folder first.
    root = Path(os.environ.get("ARENAKIT_KAGGLE_INPUT", "/kaggle/input"))
    level = [root] if root.is_dir() else []
    for _ in range(depth + 1):
        found = sorted(folder for folder in level if (folder / WHEELS_MARKER).is_file())
        if found:
            wheels = sorted(str(path) for path in found[0].glob("*.whl"))
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--no-index",
                    "--no-deps",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--find-links",
                    str(found[0]),
                    *wheels,
                ],
                check=True,
            )
            importlib.invalidate_caches()
            print(f"arenakit bootstrap: installed {len(wheels)} wheels from {found[0]}")
            return found[0]
        level = sorted(child for folder in level for child in folder.iterdir() if child.is_dir())
    if importlib.util.find_spec("arenakit") is None:
        raise RuntimeError(
            f"arenakit is not installed and no folder under {root} holds {WHEELS_MARKER}: attach the "
            f"wheels dataset that `python build.py` builds (dataset_sources of kernel-metadata.json)"
        )
    return None


if __name__ == "__main__":
    install_bundled_wheels()
