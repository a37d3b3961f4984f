"""``make book``: a static HTML book of the executed notebooks, readable without running anything.

Sphinx with MyST-NB (execution off) and the Sphinx Book Theme turn ``book/`` (configuration, index,
glossary) and the executed copies that ``make figures`` left in ``build/executed/`` into
``build/book/html/``. Nothing is re-executed. MathJax 2 ships inside the book (the files of the
``jupyter-server-mathjax`` package), so equations render offline and nothing loads from a CDN.
Run ``python -m helpers.pipeline.book --help``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..core import paths

BOOK = paths.ROOT / "book"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CLAIMS_TABLE = "claims_table.md"  # written into the source folder, included by book/claims.md


def mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def without_widgets(nb):
    """Drop ipywidgets views (tqdm bars) and their saved state: in a static page they would need
    the widget JavaScript from a CDN, and a finished progress bar says nothing."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
    return nb


def claims_table() -> str:
    """Every claim in full (the page "How a claim is judged"), from the published claim rows."""
    from .. import claims
    from . import publish

    return claims.markdown_table(publish.published_table())


def stage(executed: Path, src: Path) -> list[str]:
    """Lay out the Sphinx source folder: book/, README.md (the index includes its short claims
    table, the page "Running" its timings), the full claims table, the executed notebooks and
    MathJax. Returns the notebook names."""
    import nbformat

    from .run import numbered_notebooks

    names = [nb.name for nb in numbered_notebooks()]
    missing = [name for name in names if not (executed / name).exists()]
    if missing:
        raise SystemExit(f"no executed copy of {', '.join(missing)} in {executed}: run `make figures` first")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(paths.ROOT / "README.md", src / "README.md")
    (src / CLAIMS_TABLE).write_text(claims_table() + "\n")
    for name in names:
        nbformat.write(without_widgets(nbformat.read(executed / name, as_version=4)), src / name)
    shutil.copytree(mathjax_dir(), src / "_mathjax" / "mathjax", ignore=shutil.ignore_patterns("*.py*"))
    return names


def build(executed: Path | None = None, out: Path | None = None) -> Path:
    """Build the book from ``executed`` (default build/executed) into ``out`` (default build/book);
    returns the path of ``index.html``. Sphinx warnings (a broken reference, a missing image) fail."""
    executed = Path(executed or paths.BUILD / "executed")
    out = Path(out or paths.BUILD / "book")
    stage(executed, out / "src")
    html = out / "html"
    shutil.rmtree(html, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
                    "-d", str(out / "doctrees"), str(out / "src"), str(html)], check=True)
    return html / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, help="executed notebooks (default build/executed)")
    parser.add_argument("--out", type=Path, help="output folder (default build/book)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        index = build(args.executed, args.out)
    except subprocess.CalledProcessError as error:
        print(f"sphinx failed (exit {error.returncode}); see its messages above", file=sys.stderr)
        return 1
    print(f"book written in {time.perf_counter() - start:.0f} s: open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
