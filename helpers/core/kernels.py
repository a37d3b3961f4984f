"""Quiet Jupyter kernels for every notebook we execute (papermill, nbval, nbclient).

ipykernel logs a warning on every start that its local TCP sockets are unencrypted: true, harmless
on one machine, and noise in every log (it hid real warnings among a dozen copies). Kernels we start
read an IPython profile of our own, under ``build/``, which lowers the kernel application's log
level to errors (the notebooks' own warnings, Python's ``warnings``, still show) and shows figures
inline.
A profile of the user's (``$IPYTHONDIR`` already set) is left alone.
"""
from __future__ import annotations

import os

from . import paths
from .io import atomic_write_text

# Errors only in the kernel's log; and figures shown inline whatever $MPLBACKEND says (the Makefile
# sets agg for every process; without this, plt.show() in a kernel would show nothing and the
# executed notebooks, hence the book, would have no figures). Saved files do not change: both
# backends render with Agg.
SETTING = ('c.IPKernelApp.log_level = "ERROR"  # written by helpers.core.kernels\n'
           'c.IPKernelApp.matplotlib = "inline"\n')


def quiet_kernels() -> None:
    """Point ``$IPYTHONDIR`` (unless set) at our profile, writing it once."""
    if os.environ.get("IPYTHONDIR"):
        return
    folder = paths.BUILD / "ipython"
    config = folder / "profile_default" / "ipython_kernel_config.py"
    if not config.exists() or config.read_text() != SETTING:
        config.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config, SETTING)
    os.environ["IPYTHONDIR"] = str(folder)
