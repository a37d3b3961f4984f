"""The book shows every figure a notebook saves, with its registry caption, and its check can fail:
on a hand-made page with no image, on a missing caption, and end to end on a notebook whose kernel
ran with MPLBACKEND=agg and no inline profile (figures saved, none shown)."""
import os
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import nbformat

from helpers.core import kernels
from helpers.pipeline import book, manifest
from helpers.pipeline.figures import save

matplotlib.use("agg")

CAPTIONS = {"02_radius": "R_c^2 at each cut [raw] *per* dimension", "02_claims": "The claims of 02 & their verdicts"}


def page(images: int, captions: dict) -> str:
    """A page as MyST-NB writes it: output images under _images/, the caption cells' Markdown."""
    figures = "".join(f'<img alt="_images/x{i}.png" src="_images/x{i}.png" />' for i in range(images))
    lines = "".join(f"<p><em>Figure</em> <code class=\"docutils literal notranslate\"><span class=\"pre\">"
                    f"{fig_id}</span></code>: {caption.replace('&', '&amp;')}</p>" for fig_id, caption in captions.items())
    return f'<html><body><img src="_static/logo.png" />{figures}{lines}</body></html>'


def test_a_page_with_every_figure_and_caption_passes():
    assert book.figure_shortfall(page(2, CAPTIONS), CAPTIONS) == []


def test_a_page_with_no_image_fails_even_with_a_logo():
    assert book.figure_shortfall(page(0, CAPTIONS), CAPTIONS) == ["0 images for 2 saved figures"]


def test_a_missing_or_changed_caption_fails():
    assert book.figure_shortfall(page(2, {"02_radius": CAPTIONS["02_radius"]}), CAPTIONS) == ["02_claims: no caption"]
    changed = {**CAPTIONS, "02_claims": "The claims of 02"}
    assert book.figure_shortfall(page(2, changed), CAPTIONS) == ["02_claims: no caption"]


def test_captions_follow_the_cell_that_saves_them_and_markup_is_escaped():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("intro"),
                nbformat.v4.new_code_cell('save(fig, "02_radius", caption="...")\nplt.show()'),
                nbformat.v4.new_code_cell("for cut in cuts:\n    save(fig, f\"03_rec_{cut}\", caption=cut)"),
                nbformat.v4.new_code_cell("x = 1")]
    captions = {**CAPTIONS, "03_rec_pool1": "at pool1", "03_rec_fc1": "at fc1"}
    cells = book.with_captions(nb, captions).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "markdown", "code", "markdown", "code"]
    assert cells[2].source == r"*Figure* `02_radius`: R\_c^2 at each cut \[raw\] \*per\* dimension"
    assert cells[4].source == "*Figure* `03_rec_pool1`: at pool1\n\n*Figure* `03_rec_fc1`: at fc1"


def test_a_figure_the_notebook_does_not_show_comes_from_its_saved_png(tmp_path):
    """The claims tables are saved with shown=False (the notebook shows a DataFrame): the book
    embeds their PNG; a figure the notebook shows is never embedded (a kernel that showed nothing
    must fail the figure check, not be papered over)."""
    figures = tmp_path / "figures"
    table = plt.figure()
    save(table, "02_claims", folder=figures, caption="claims (table)", shown=False)
    assert not plt.fignum_exists(table.number), "saved, then closed: the notebook does not show it"
    save(plt.figure(), "02_radius", folder=figures, caption="radius")
    assert book.registry(figures)["02_claims"]["shown"] is False and "shown" not in book.registry(figures)["02_radius"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('save(fig, "02_claims", shown=False, caption="...")'),
                nbformat.v4.new_code_cell('save(fig, "02_radius", caption="...")\nplt.show()')]
    cells = book.with_captions(nb, book.registry_captions(figures), figures, tmp_path / "media", {"02_claims"}).cells
    assert cells[1].source.startswith("![claims (table)](media/02_claims.png)")
    assert (tmp_path / "media" / "02_claims.png").read_bytes() == (figures / "02_claims.png").read_bytes()
    assert cells[3].source == "*Figure* `02_radius`: radius" and not (tmp_path / "media" / "02_radius.png").exists()


def test_registry_captions_read_a_runs_own_entries(tmp_path):
    manifest.write_meta(tmp_path, "05_gains", "CEM's gains", None)
    assert book.registry_captions(tmp_path) == {"05_gains": "CEM's gains"}


def figure_notebook(tmp_path, ipythondir, figures) -> str:
    """Run a one-cell notebook that saves one figure and shows it, with make's MPLBACKEND=agg;
    returns the page the book makes of it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A probe"), nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfrom helpers.pipeline.figures import save\n"
        "fig = plt.figure()\nplt.plot([0, 1])\n"
        'save(fig, "00_probe_line", caption="A line that the book must show")\nplt.show()')]
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    nbformat.write(nb, source / "00_probe.ipynb")
    env = {**os.environ, "MPLBACKEND": "agg", "IPYTHONDIR": ipythondir, "MIA_FIGURES_DIR": str(figures)}
    run = ("import papermill, sys\npapermill.execute_notebook(sys.argv[1], sys.argv[2], "
           "kernel_name='python3', progress_bar=False)")
    subprocess.run([sys.executable, "-c", run, str(source / "00_probe.ipynb"), str(tmp_path / "00_probe.ipynb")],
                   env=env, check=True, capture_output=True, timeout=180)
    index = book.build(tmp_path, tmp_path / "book", figures, names=["00_probe.ipynb"])
    return (index.parent / "00_probe.html").read_text(encoding="utf-8")


def test_the_check_fails_on_a_book_whose_kernels_ran_with_agg(tmp_path, monkeypatch):
    """The figure is saved (the registry has it), the page shows no image: the check says so."""
    monkeypatch.delenv("IPYTHONDIR", raising=False)
    kernels.prepare_kernels()
    figures = tmp_path / "figures"
    without_profile = figure_notebook(tmp_path, str(tmp_path / "empty-profile"), figures)
    captions = book.registry_captions(figures)
    assert list(captions) == ["00_probe_line"]
    assert book.figure_shortfall(without_profile, captions) == ["0 images for 1 saved figures"]
    assert book.figure_shortfall(figure_notebook(tmp_path, os.environ["IPYTHONDIR"], figures), captions) == []
