"""`make book`: every notebook executed at smoke scale, built into the static book, opened in
headless Chromium: pages load, every figure the notebooks saved is shown with its caption, images
load, math renders, no link is broken, nothing is fetched from outside the book. A screenshot of
each page is left in build/test-book/screenshots/."""
import json
import os
import re
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from devtools import Browser
from helpers.core import paths
from helpers.pipeline.book import build, figure_shortfall, registry_captions
from helpers.pipeline.run import numbered_notebooks

# pytest-xdist (make test): the book is built once, from the executed copies
pytestmark = pytest.mark.xdist_group("book")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM and not os.environ.get("CI"):
    pytest.skip("headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)",
                allow_module_level=True)

NOTEBOOKS = numbered_notebooks()
SCREENSHOTS = paths.BUILD / "test-book" / "screenshots"
PAGES = ([page.stem + ".html" for page in sorted((paths.ROOT / "book").glob("*.md"))]   # every page of book/
         + [nb.stem + ".html" for nb in NOTEBOOKS])

# Appended to a copy of a page: once MathJax has typeset the page (or at load when the page has no
# math), write what the browser sees into the DOM, where the test reads it.
PROBE = """<script>
window.addEventListener("load", function () {
  function report() {
    var images = Array.from(document.images);
    var out = {
      images: images.length,
      broken: images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                    .map(function (i) { return i.getAttribute("src"); }),
      math: document.querySelectorAll(".math.notranslate").length,  // Sphinx's math elements
      typeset: document.querySelectorAll("script[type^='math/tex']").length,
      rendered: document.querySelectorAll("span.MathJax").length,
      errors: document.querySelectorAll(".MathJax_Error, .merror").length,
      mathjax: !!(window.MathJax && window.MathJax.Hub)
    };
    var pre = document.createElement("pre");
    pre.id = "book-probe";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (window.MathJax && window.MathJax.Hub) { MathJax.Hub.Register.StartupHook("End", report); }
  else { report(); }
});
</script>"""


class Links(HTMLParser):
    """Every href/src of a page, the tag it sits on, and the page's ids."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append((tag, attrs.get("rel") or "", attrs[key]))


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def executed(smoke_run) -> Path:
    return smoke_run[0]


@pytest.fixture(scope="module")
def captions(smoke_run) -> dict:
    return registry_captions(smoke_run[1])


@pytest.fixture(scope="module")
def html(smoke_run, tmp_path_factory) -> Path:
    index = build(smoke_run[0], tmp_path_factory.mktemp("book"), smoke_run[1])
    assert index.exists()
    return index.parent


def test_every_page_exists(html):
    assert [page for page in PAGES if not (html / page).exists()] == []


def test_no_internal_link_is_broken_and_nothing_comes_from_outside(html):
    pages = {path: parse(path) for path in html.rglob("*.html") if "_static" not in path.parts}
    broken, external = [], []
    for path, links in pages.items():
        for tag, rel, link in links.links:
            url = urlsplit(link)
            if url.scheme in ("http", "https", "mailto") or link.startswith("//"):
                # a link a reader follows is fine; a resource the page loads is not
                if tag != "a" and not (tag == "link" and rel in ("canonical", "author", "search")):
                    external.append(f"{path.name}: <{tag}> {link}")
                continue
            if url.scheme or (not url.path and not url.fragment):
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            if not target.exists():
                broken.append(f"{path.name}: {link}")
            elif url.fragment and target.suffix == ".html" and target in pages \
                    and unquote(url.fragment) not in pages[target].ids:
                broken.append(f"{path.name}: {link} (no such anchor)")
    assert broken == [], broken
    assert external == [], external


def test_every_notebook_page_shows_each_figure_it_saved_with_its_caption(html, captions):
    """Counted against the figures the run saved (its registry), not the executed copy's images:
    a run whose kernels showed nothing (MPLBACKEND=agg reaching them) fails here."""
    saved = {nb.stem: {k: v for k, v in captions.items() if k[:2] == nb.name[:2]} for nb in NOTEBOOKS}
    assert all(saved.values()), f"every notebook saves figures: {[k for k, v in saved.items() if not v]}"
    short = {stem: figure_shortfall((html / f"{stem}.html").read_text(encoding="utf-8"), ids)
             for stem, ids in saved.items()}
    assert {stem: problems for stem, problems in short.items() if problems} == {}


def test_every_notebook_page_has_its_references(html):
    for nb in NOTEBOOKS:
        text = (html / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert re.search(r"<h3>References", text), f"{nb.stem}: no References section"
    assert any("<table" in (html / f"{nb.stem}.html").read_text(encoding="utf-8") for nb in NOTEBOOKS)
    assert '<dl class="simple glossary' in (html / "glossary.html").read_text(encoding="utf-8")


def test_the_claims_page_has_every_claim_in_full_and_the_pages_quote_the_readme(html):
    from helpers import claims
    from helpers.pipeline import publish

    page = unescape((html / "claims.html").read_text(encoding="utf-8"))
    table = publish.published_table()
    assert all(claim in page for claim in table.claim), "every claim of the table"
    assert all(rule in page for rule in table.rule), "in full: the rule column too"
    assert page.count("<tr") >= len(claims.CLAIMS) + 2   # the claims and the verdict rule's table
    running = unescape((html / "running.html").read_text(encoding="utf-8"))
    assert "from a fresh clone" in running, "the timings block of the README"
    index = unescape((html / "index.html").read_text(encoding="utf-8"))
    assert all(claim in index for claim in table.claim) and "no effect" not in index, "the short table"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for every page (starting it costs seconds; tests/devtools.py)."""
    assert CHROMIUM, "CI must install Debian's chromium (.ci/run does)"
    with Browser(CHROMIUM, tmp_path_factory.mktemp("chromium")) as running:
        yield running


# What the probe left in the page (null until it has run), then the probe removed from the view
READ_PROBE = "(function () { var p = document.getElementById('book-probe'); return p ? p.textContent : null; })()"
HIDE_PROBE = "document.getElementById('book-probe').remove()"


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_with_images_and_math_in_chromium(html, browser, page):
    probe = html / f"probe-{page}"
    probe.write_text((html / page).read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    try:
        report = browser.read(probe.as_uri(), READ_PROBE)
    finally:
        probe.unlink()
    assert report is not None, f"{page}: the page did not finish loading (no probe output)"
    browser.evaluate(HIDE_PROBE)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)   # what a reader sees at the top of the page
    shot = SCREENSHOTS / page.replace(".html", ".png")
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000, f"{page}: the screenshot is blank"
    seen = json.loads(report)
    assert seen["broken"] == [], f"{page}: images that did not load"
    if seen["math"]:
        assert seen["mathjax"], f"{page}: has math but MathJax did not load"
        assert seen["typeset"] >= seen["math"] and seen["rendered"] >= seen["math"], seen
        assert seen["errors"] == 0, seen
