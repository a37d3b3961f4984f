"""Jupyter kernels for every notebook we execute (papermill, nbval, nbclient): quiet, and running
this checkout's code.

* ipykernel logs a warning on every start that its local TCP sockets are unencrypted: true, harmless
  on one machine, and noise in every log (it hid real warnings among a dozen copies). Kernels we
  start read an IPython profile of our own, under ``build/``, which lowers the kernel application's
  log level to errors (the notebooks' own warnings, Python's ``warnings``, still show) and shows
  figures inline. A profile of the user's (``$IPYTHONDIR`` already set) is left alone.
* Long loops print a line per finished stage instead of a progress bar (``$MIA_PROGRESS=lines``,
  :mod:`helpers.core.progress`): a bar stored in an executed notebook is a dump of its updates.
* A kernel runs in ``notebooks/``, where ``import helpers`` would find the editable install of
  whichever checkout created ``.venv``: a second checkout sharing that ``.venv`` would run the
  first one's code and write into its folders. ``$PYTHONPATH`` starts with this checkout, which
  Python searches before any installed package (``helpers.setup_notebook`` checks it too).
"""
from __future__ import annotations

import os

from . import paths
from .io import atomic_write_text
from .progress import LINES, PROGRESS_ENV_VAR

# Errors only in the kernel's log; and figures shown inline whatever $MPLBACKEND says (the Makefile
# sets agg for every process; without this, plt.show() in a kernel would show nothing and the
# executed notebooks, hence the book, would have no figures). Saved files do not change: both
# backends render with Agg.
SETTING = ('c.IPKernelApp.log_level = "ERROR"  # written by helpers.core.kernels\n'
           'c.IPKernelApp.matplotlib = "inline"\n')


def prepare_kernels() -> None:
    """Point ``$IPYTHONDIR`` (unless set) at our profile, writing it once, put this checkout first
    on ``$PYTHONPATH`` and ask for progress lines, not bars; kernels started afterwards inherit it."""
    os.environ[PROGRESS_ENV_VAR] = LINES
    search = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(paths.ROOT)] + [e for e in search if e != str(paths.ROOT)])
    if os.environ.get("IPYTHONDIR"):
        return
    folder = paths.BUILD / "ipython"
    config = folder / "profile_default" / "ipython_kernel_config.py"
    if not config.exists() or config.read_text() != SETTING:
        config.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config, SETTING)
    os.environ["IPYTHONDIR"] = str(folder)
