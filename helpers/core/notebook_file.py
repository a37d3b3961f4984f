"""Stored notebooks as JupyterLab would save them, so that opening one changes nothing.

When JupyterLab opens a notebook it starts its kernel and writes the kernel's ``kernelspec``
(``display_name`` "Python 3 (ipykernel)") and its full ``language_info`` (the Python version,
mimetype, lexer, ...) into the notebook's metadata; when those differ from the stored ones the
notebook is modified before the reader has done anything, and autosave rewrites the file, keys
sorted as nbformat writes them. :func:`stored_text` is the file that round trip would produce: the
notebook read as the server reads it (nbformat v4, upgraded), the metadata of this environment's
kernel, nbformat's serialisation. Every writer of ``notebooks/`` and ``student/`` uses it, and
``tests/test_notebooks.py`` checks that each stored notebook already is that text.

The kernel reports the running Python's version (``3.11.7`` here): a reader whose Python 3.11
differs in its last digit still sees the notebook as modified. Run ``python -m
helpers.core.notebook_file FILE...`` to rewrite notebooks in place.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .io import atomic_write_text

KERNEL_NAME = "python3"


def kernel_metadata() -> dict:
    """The notebook metadata a started ``python3`` kernel of this environment writes."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    return {"kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": KERNEL_NAME},
            "language_info": dict(IPythonKernel.language_info)}


def as_opened(nb):
    """``nb`` (an nbformat v4 notebook) with the metadata JupyterLab's kernel would give it."""
    nb.metadata.update(kernel_metadata())
    return nb


def stored_text(nb) -> str:
    """The exact file JupyterLab's load-and-save round trip would write for ``nb``."""
    import nbformat

    nb = as_opened(nbformat.reads(nbformat.writes(nb), as_version=4))
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def write_notebook(path: Path, nb) -> Path:
    """Write ``nb`` to ``path`` atomically, as :func:`stored_text`."""
    atomic_write_text(Path(path), stored_text(nb))
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    import nbformat

    files = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    if not files:
        print("usage: python -m helpers.core.notebook_file NOTEBOOK.ipynb...", file=sys.stderr)
        return 2
    for path in files:
        before = path.read_text(encoding="utf-8")
        write_notebook(path, nbformat.reads(before, as_version=4))
        print(f"{path}: {'rewritten' if path.read_text(encoding='utf-8') != before else 'already clean'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
