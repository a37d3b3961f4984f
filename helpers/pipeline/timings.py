"""The headline timings, read from one source: the tables of ``benchmarks/RESULTS.md``.

The README's timings block (between :data:`START` and :data:`END`; the book's "Running" page
includes it) is rendered from those tables by :func:`block`, never typed, so a number quoted there
is the number a benchmark measured. ``make figures`` and ``make benchmarks`` rewrite the block;
tests/test_timings.py checks that the README holds what the tables say.
"""
from __future__ import annotations

from pathlib import Path

from ..core import io, paths

RESULTS = paths.ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- timings:start -->", "<!-- timings:end -->"

FIGURES_SECTION = "## Cold `make figures` + `make claims`"
NOTEBOOKS_SECTION = "## Notebooks at `quick`"
TEST_SECTION = "## `make test` from a fresh clone"
PROFILE_SECTION = "## Cold `make figures`, notebook by notebook"   # benchmarks/cold_profile.py; supersedes
# the cold time of FIGURES_SECTION when present (a later measurement of the same run, notebook by notebook)


def section_lines(text: str, heading: str) -> list[str]:
    """The lines of the section whose heading starts with ``heading`` (ValueError when none)."""
    start = text.find(heading)
    if start < 0:
        raise ValueError(f"benchmarks/RESULTS.md has no section {heading!r}")
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else None].splitlines()


def section_scope(text: str, heading: str) -> str:
    """What a section's measurement covers: its line ``Scope: ...`` (empty when it has none)."""
    return next((line[len("Scope:"):].strip() for line in section_lines(text, heading)
                 if line.startswith("Scope:")), "")


def section_rows(text: str, heading: str) -> list[dict]:
    """The first table of the section whose heading starts with ``heading``, as dicts keyed by
    its header (cells stripped of ``**``). Raises ValueError naming a missing section or table."""
    lines = [line for line in section_lines(text, heading) if line.startswith("|")]
    if len(lines) < 3:
        raise ValueError(f"section {heading!r} of benchmarks/RESULTS.md has no table")
    cells = lambda line: [cell.replace("**", "").strip() for cell in line.strip("|").split("|")]  # noqa: E731
    header = cells(lines[0])
    return [dict(zip(header, cells(line))) for line in lines[2:]]


def _row(rows: list[dict], column: str, starts: str) -> dict:
    matches = [row for row in rows if row[column].startswith(starts)]
    if not matches:
        raise ValueError(f"no row starting {starts!r} in column {column!r} of benchmarks/RESULTS.md")
    return matches[-1]


def headline(text: str) -> dict:
    """Minutes of: a cold ``make figures``, ``make claims`` after it, a warm ``make figures``, and
    the latest ``make test`` from a fresh clone that passed (with the revision it ran on)."""
    figures = section_rows(text, FIGURES_SECTION)
    cold = float(_row(figures, "step", "`make figures`")["wall s"])
    claims = float(_row(figures, "step", "together")["wall s"]) - cold
    warm = float(_row(section_rows(text, NOTEBOOKS_SECTION), "notebook", "all")["warm s"].split()[0])
    test = _row(section_rows(text, TEST_SECTION), "result", "passed")   # a failed run times nothing
    return {"figures_cold": cold / 60, "claims": claims / 60, "figures_warm": warm / 60,
            "test": float(test["total s"]) / 60, "test_revision": test["revision"]}


def cold_profile(text: str) -> dict | None:
    """The notebook-by-notebook cold run (:data:`PROFILE_SECTION`), or None when RESULTS.md has none:
    its minutes, revision and first and last notebook."""
    if PROFILE_SECTION not in text:
        return None
    rows = section_rows(text, PROFILE_SECTION)
    total = _row(rows, "notebook", "these notebooks")["cold s"]
    notebooks = [row["notebook"][:2] for row in rows if row["notebook"][:2].isdigit()]
    revision = next(line.split()[1].rstrip(",") for line in section_lines(text, PROFILE_SECTION)
                    if line.startswith("Revision "))
    return {"minutes": float(total.split()[0]) / 60, "revision": revision, "first": notebooks[0], "last": notebooks[-1]}


def block(text: str | None = None) -> str:
    """The README's timings block, rendered from RESULTS.md (``text``; default the file)."""
    text = RESULTS.read_text() if text is None else text
    h, scope, profile = headline(text), section_scope(text, FIGURES_SECTION), cold_profile(text)
    test = (f"Measured on 2 CPU cores (`benchmarks/RESULTS.md`): `make test` from a fresh clone "
            f"**{h['test']:.1f} min** (revision {h['test_revision']}); ")
    if profile is None:
        return "\n".join([START, test + f"`make figures` from an empty cache **{h['figures_cold']:.1f} min**, with "
                          f"everything cached {h['figures_warm']:.1f} min; `make claims` after it {h['claims']:.1f} min "
                          "more." + (f" Those two cover {scope}" if scope else ""), END])
    return "\n".join([
        START,
        test + f"`make figures` from an empty cache **{profile['minutes']:.1f} min** for notebooks "
        f"{profile['first']}–{profile['last']} (revision {profile['revision']}). Measured earlier: with everything "
        f"cached {h['figures_warm']:.1f} min, `make claims` after a cold run {h['claims']:.1f} min"
        + (f"; those cover {scope}" if scope else "."),
        END])


def update(readme: Path | None = None) -> bool:
    """Rewrite the timings block of README.md from RESULTS.md; True when it changed."""
    readme = Path(readme) if readme is not None else paths.ROOT / "README.md"
    return io.replace_marked_block(readme, START, END, block())


if __name__ == "__main__":   # python -m helpers.pipeline.timings: rewrite the README's block now
    print("README.md timings " + ("updated" if update() else "unchanged"))
