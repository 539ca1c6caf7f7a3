"""What Kaggle needs with the internet off, built from this repo, and pushed with the real kaggle CLI.

    settings        the top-level kernel-metadata.json: owner, slugs, machine shape (the one source of settings)
    image, target   the Kaggle image's packages (wheels/kaggle-image.txt); the Python and platform to build for
    wheels          arenakit's wheel plus what the image lacks (pip_download: atomic, retried; wheel_info: metadata)
    closure         the offline check that every bundled wheel's requirements are met
    datasets        build/datasets/<slug>/: the wheels, the backbone weights (weights: staged folders, Kaggle
                    Model handles) and the models trained elsewhere (models_dataset: checked), each with a manifest
    kernels         build/kernels/<name>/: one per notebook, sources wired to the datasets, training kernels and
                    Kaggle Models
    bootstrap       the first cell of every notebook (notebook_cells puts it there): installs the wheels offline
    built           where build outputs live, read back by kernels, push, status and rehearsal
    cli             the kaggle CLI, run as a program: commands, dataset and kernel status, a kernel's log
    push            the kaggle CLI commands, in dependency order; a failed kernel's log read (kernel_log)
    status          each pushed dataset's and kernel's state on Kaggle, as a table
    rehearsal       a fake /kaggle/input and a fresh venv (image_venv) that run the submission notebook locally

Nothing here imports the kaggle package (it authenticates at import time): cli calls the CLI.
"""


class BuildError(RuntimeError):
    """A build step cannot go on: the message names the file or input and what to do."""


__all__ = ["BuildError"]
