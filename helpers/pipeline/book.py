"""``make book``: a static HTML book of the executed notebooks, readable without running anything.

Sphinx with MyST-NB (execution off) and the Sphinx Book Theme turn ``book/`` (configuration, index,
glossary) and the executed copies that ``make figures`` left in ``build/executed/`` into
``build/book/html/``. Nothing is re-executed. MathJax 2 ships inside the book (the files of the
``jupyter-server-mathjax`` package), so equations render offline and nothing loads from a CDN.
Each figure a notebook saves is followed by its caption from the figure registry
(``figures/MANIFEST.yaml``, or what a run outside ``make figures`` left beside its figures), and
:func:`figure_shortfall` is the check that a page shows every one of them.
Run ``python -m helpers.pipeline.book --help``.
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..core import paths

BOOK = paths.ROOT / "book"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CLAIMS_TABLE = "claims_table.md"  # written into the source folder, included by book/claims.md
CLAIMS_FIGURE = "08_claims.png"   # the published forest plot of the claims, shown on the index


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


def escape_markdown(text: str) -> str:
    """``text`` with Markdown's markup characters escaped, so that it reads as written."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def caption_markdown(fig_id: str, caption: str) -> str:
    """The line shown under a figure: its registry id (its files in ``figures/``) and its caption."""
    return f"*Figure* `{fig_id}`: " + escape_markdown(caption)


FIGURE_MEDIA = "_figures"   # in the source folder: saved figures a notebook did not display


def with_captions(nb, captions: dict, figures: Path | None = None, media: Path | None = None,
                  not_shown: set = frozenset()):
    """After each code cell that saves figures, a Markdown cell with their captions, in the order of
    ``captions`` (the registry's ids; an f-string id of a loop matches several). Figures the
    notebook saved without displaying them (``not_shown``: the claims tables) come from
    ``figures/<id>.png``, copied into ``media``, so the page shows every figure of the registry."""
    import nbformat

    from .manifest import save_id_patterns_in

    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        patterns = save_id_patterns_in(cell.source)
        ids = [fig_id for fig_id in captions if any(p.match(fig_id) for p in patterns)]
        if not ids:
            continue
        lines = []
        for fig_id in ids:
            if fig_id in not_shown and figures is not None and (Path(figures) / f"{fig_id}.png").exists():
                Path(media).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(figures) / f"{fig_id}.png", Path(media) / f"{fig_id}.png")
                lines.append(f"![{escape_markdown(captions[fig_id])}]({Path(media).name}/{fig_id}.png)")
            lines.append(caption_markdown(fig_id, captions[fig_id]))
        cells.append(nbformat.v4.new_markdown_cell("\n\n".join(lines)))
    nb.cells = cells
    return nb


def registry(figures: Path | None = None) -> dict:
    """The registry entries of the published ``figures/`` (default), or, when ``figures`` is a run's
    own figures folder, the entries that run left beside its figures."""
    from . import manifest

    folder = Path(figures) if figures is not None else paths.FIGURES
    return manifest.load(folder) if manifest.manifest_path(folder).exists() else manifest.staged(folder)


def registry_captions(figures: Path | None = None) -> dict:
    """``{figure id: caption}`` of :func:`registry`."""
    return {fig_id: entry["caption"] for fig_id, entry in registry(figures).items()}


def page_text(page_html: str) -> str:
    """A page as a reader reads it: tags dropped (inline markup adds no space), entities decoded,
    Sphinx's typographic quotes read as plain ones, spaces collapsed."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page_html)).translate(PLAIN_QUOTES)
    return " ".join(text.split())


PLAIN_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def figure_shortfall(page_html: str, captions: dict) -> list[str]:
    """What a notebook's page lacks of the figures it saved (``captions``: its ids and captions):
    fewer output images than figures, or a figure whose id and caption are not shown. Empty when
    the page has them all; a page with no image fails whenever the notebook saved one."""
    shown = len(re.findall(r'<img[^>]+src="_images/', page_html))
    problems = [f"{shown} images for {len(captions)} saved figures"] if shown < len(captions) else []
    text = page_text(page_html)
    return problems + [f"{fig_id}: no caption" for fig_id, caption in captions.items()
                       if f"{fig_id}: {' '.join(caption.split())}" not in text]


def claims_table() -> str:
    """Every claim in full (the page "How a claim is judged"), from the published claim rows."""
    from .. import claims
    from . import publish

    return claims.markdown_table(publish.published_table())


def stage(executed: Path, src: Path, figures: Path | None = None, names: list[str] | None = None) -> list[str]:
    """Lay out the Sphinx source folder: book/, README.md (the index includes its short claims
    table, the page "Running" its timings), the published claims figure, the full claims table, the executed notebooks (``names``,
    default every numbered one) with the captions and images of the figures in ``figures`` (default
    the published ``figures/``, or the folder a run saved its figures in) and MathJax. Returns the
    notebook names."""
    import nbformat

    from .run import numbered_notebooks

    figures = Path(figures) if figures is not None else paths.FIGURES
    entries = registry(figures)
    captions = {fig_id: entry["caption"] for fig_id, entry in entries.items()}
    not_shown = {fig_id for fig_id, entry in entries.items() if entry.get("shown") is False}
    names = names or [nb.name for nb in numbered_notebooks()]
    missing = [name for name in names if not (executed / name).exists()]
    if missing:
        raise SystemExit(f"no executed copy of {', '.join(missing)} in {executed}: run `make figures` first")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(paths.ROOT / "README.md", src / "README.md")
    shutil.copyfile(paths.FIGURES / CLAIMS_FIGURE, src / CLAIMS_FIGURE)   # the index shows the claims
    (src / CLAIMS_TABLE).write_text(claims_table() + "\n")
    for name in names:
        notebook = without_widgets(nbformat.read(executed / name, as_version=4))
        own = {k: v for k, v in captions.items() if k[:2] == name[:2]}
        nbformat.write(with_captions(notebook, own, figures, src / FIGURE_MEDIA, not_shown), src / name)
    shutil.copytree(mathjax_dir(), src / "_mathjax" / "mathjax", ignore=shutil.ignore_patterns("*.py*"))
    return names


def build(executed: Path | None = None, out: Path | None = None, figures: Path | None = None,
          names: list[str] | None = None) -> Path:
    """Build the book from ``executed`` (default build/executed) into ``out`` (default build/book),
    every figure of ``figures`` (default the published ``figures/``) with its caption, the chapters ``names``
    (default every numbered notebook); returns the path of ``index.html``. Sphinx warnings (a
    broken reference, a missing image) fail."""
    executed = Path(executed or paths.BUILD / "executed")
    out = Path(out or paths.BUILD / "book")
    stage(executed, out / "src", figures, names)
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
