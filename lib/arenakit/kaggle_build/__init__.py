"""What Kaggle needs with the internet off, built from this repo, and pushed with the real kaggle CLI.

    settings        the top-level kernel-metadata.json: owner, slugs, machine shape (the one source of settings)
    image, target   the Kaggle image's packages (wheels/kaggle-image.txt); the Python and platform to build for
    wheels          arenakit's wheel plus what the image lacks (pip_download: atomic, retried; wheel_info: metadata)
    closure         the offline check that every bundled wheel's requirements are met
    datasets        build/datasets/<slug>/: the wheels and the model weights (weights), each with a manifest
    kernels         build/kernels/<name>/: one per notebook, sources wired to the datasets and training kernels
    bootstrap       the first cell of every notebook (notebook_cells puts it there): installs the wheels offline
    built           where build outputs live, read back by push and rehearsal
    push            the kaggle CLI commands, in dependency order
    rehearsal       a fake /kaggle/input and a fresh venv (image_venv) that run the submission notebook locally

Nothing here imports the kaggle package (it authenticates at import time): push calls the CLI.
"""


class BuildError(RuntimeError):
    """A build step cannot go on: the message names the file or input and what to do."""
