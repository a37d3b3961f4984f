"""The README's timings come from one source, benchmarks/RESULTS.md (helpers/pipeline/timings.py),
and the README is a front door: short, its links and pages real."""
import re

import pytest

from benchmarks import bench_test
from helpers.core import paths
from helpers.pipeline import timings

RESULTS = """# Benchmarks

## Notebooks at `quick` (`make figures`)

| notebook | cold s | warm s |
|---|---|---|
| 00_quickstart.ipynb | 32 | 9 |
| **all** | **1317** (22.0 min) | **139** (2.3 min) |

## Cold `make figures` + `make claims`, and the Ray overhead

Scope: every notebook, 03 §6 included.

| step | wall s | min |
|---|---|---|
| `make figures` (every notebook, seed 0) | 900 | 15.0 |
| `make claims`: seed 1 on Ray | 600 | 10.0 |
| **together** | **1500** | **25.0** |

## `make test` from a fresh clone (`benchmarks/bench_test.py`)

| revision | date | install s | tests s | total s | result |
|---|---|---|---|---|---|
| aaaaaaa | 2026-12-01 | 200 | 1600 | 1800 | passed |
| bbbbbbb | 2026-12-04 | 200 | 520 | 720 | passed |
"""
README = paths.ROOT / "README.md"


def test_headline_reads_each_number_from_its_table():
    h = timings.headline(RESULTS)
    assert h == {"figures_cold": 15.0, "claims": 10.0, "figures_warm": 139 / 60, "test": 12.0,
                 "test_revision": "bbbbbbb"}, "the last make-test row is the current one"


def test_block_quotes_the_tables_and_the_scope():
    block = timings.block(RESULTS)
    assert block.startswith(timings.START) and block.endswith(timings.END)
    for text in ("**12.0 min** (revision bbbbbbb)", "**15.0 min**", "cached 2.3 min", "10.0 min more",
                 "cover every notebook, 03 §6 included."):
        assert text in block, text


PROFILE = """## Cold `make figures`, notebook by notebook (`benchmarks/cold_profile.py`)

Revision ccccccc, measured 2026-12-07: from an empty cache.

| notebook | cold s |
|---|---|
| 00_quickstart.ipynb | 30 |
| 07_defense_benchmark.ipynb | 2280 |
| **these notebooks** | **2310** (38.5 min) |

"""


def test_a_notebook_by_notebook_cold_run_supersedes_the_older_cold_time():
    text = RESULTS.replace("## `make test`", PROFILE + "## `make test`")
    assert timings.cold_profile(text) == {"minutes": 38.5, "revision": "ccccccc", "first": "00", "last": "07"}
    assert timings.cold_profile(RESULTS) is None
    block = timings.block(text)
    for shown in ("**38.5 min** for notebooks 00–07 (revision ccccccc)", "cached 2.3 min", "10.0 min;",
                  "those cover every notebook, 03 §6 included."):
        assert shown in block, shown
    assert "15.0 min" not in block, "the older cold time is not quoted beside it"


@pytest.mark.parametrize("missing", [timings.TEST_SECTION, timings.FIGURES_SECTION])
def test_a_missing_section_is_named(missing):
    text = RESULTS.replace(missing, "## Something else")
    with pytest.raises(ValueError, match=re.escape(missing)):
        timings.headline(text)


def test_the_readme_quotes_benchmarks_results():
    assert timings.block() in README.read_text(), "run `make figures` or `python -m helpers.pipeline.timings`"


def test_update_rewrites_only_the_block(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text(RESULTS)
    monkeypatch.setattr(timings, "RESULTS", results)
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{timings.START}\nold\n{timings.END}\nb\n")
    assert timings.update(readme) and not timings.update(readme)
    assert readme.read_text() == f"a\n{timings.block(RESULTS)}\nb\n"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="timings:start"):
        timings.update(readme)


def test_bench_test_appends_a_row_and_keeps_the_history():
    earlier = bench_test.earlier_rows(RESULTS)
    assert [row.split("|")[1].strip() for row in earlier] == ["aaaaaaa", "bbbbbbb"]
    run = {"revision": "ccccccc", "date": "2026-12-05", "install": 210.0, "tests": 600.0, "result": "passed"}
    lines = bench_test.section(earlier, run)
    text = bench_test.replace_section(RESULTS, lines, bench_test.TITLE)
    assert timings.headline(text)["test"] == pytest.approx(810 / 60)
    assert "Target: under 15 minutes: met (13.5 min)." in lines
    assert len(timings.section_rows(text, timings.TEST_SECTION)) == 3


def test_a_failed_make_test_is_neither_quoted_nor_judged():
    earlier = bench_test.earlier_rows(RESULTS)
    run = {"revision": "ccccccc", "date": "2026-12-05", "install": 100.0, "tests": 200.0, "result": "FAILED (1 failed)"}
    lines = bench_test.section(earlier, run)
    text = bench_test.replace_section(RESULTS, lines, bench_test.TITLE)
    assert "Target: under 15 minutes: not judged, the run failed (5.0 min)." in lines
    last_passed = [row for row in timings.section_rows(RESULTS, timings.TEST_SECTION) if row["result"].startswith("passed")][-1]
    assert timings.headline(text)["test_revision"] == last_passed["revision"] != "ccccccc"


def test_readme_is_a_short_front_door():
    text = README.read_text()
    assert len(text.encode()) <= 8 * 1024, f"README.md is {len(text.encode())} bytes (at most 8 KB)"
    assert "make figures" in text and "make test" in text


def test_every_file_the_readme_links_exists():
    links = re.findall(r"\]\(([^)#]+)\)", README.read_text())
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local, "the README shows committed figures"
    assert [link for link in local if not (paths.ROOT / link).exists()] == []


def test_every_book_page_the_readme_names_exists():
    named = re.findall(r"^- \*([^*]+)\*", README.read_text(), flags=re.M)
    titles = {path.read_text().splitlines()[0].lstrip("# ").strip() for path in (paths.ROOT / "book").glob("*.md")}
    assert len(named) == 6
    assert [name for name in named if not any(title.startswith(name) for title in titles)] == []
