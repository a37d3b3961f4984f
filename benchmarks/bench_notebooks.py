"""Wall time of every notebook at ``quick``, cold (empty cache) and warm (everything cached).

Run through ``benchmarks/run.py`` (``make benchmarks BENCH=notebooks``; about 25 minutes on a
2-core CPU). It runs the same papermill pipeline as ``make figures`` twice, against a fresh cache in
``build/bench-cache`` and with figures staged to ``build/bench-figures``, so ``figures/`` and
``data/cache`` are untouched. Afterwards ``MIA_CACHE_DIR=build/bench-cache make figures`` is warm.
Targets (issue 8): the whole run under 25 minutes cold and under 3 minutes warm. The section
also splits each notebook's cold time by the kind of cached result it computed.
"""
from __future__ import annotations

import os
import shutil

from helpers.core import cache
from helpers.core import paths
from helpers.pipeline.run import numbered_notebooks, run_notebook

CACHE = paths.BUILD / "bench-cache"
FIGURES = paths.BUILD / "bench-figures"
TARGETS = {"cold": 25 * 60, "warm": 3 * 60}


def timed_pass(notebooks) -> dict:
    """Seconds per notebook (None where it failed; the pass goes on with the next one)."""
    seconds = {}
    for notebook in notebooks:
        print(f"[bench] {notebook.name} ...", flush=True)
        try:
            seconds[notebook.name] = run_notebook(notebook, {"scale": "quick"}, FIGURES)
        except Exception as error:  # report, keep timing the others
            print(f"[bench] {notebook.name} failed: {type(error).__name__}: {getattr(error, 'evalue', error)}")
            seconds[notebook.name] = None
    return seconds


def section(peak: float) -> list[str]:
    shutil.rmtree(CACHE, ignore_errors=True)
    shutil.rmtree(FIGURES, ignore_errors=True)
    CACHE.mkdir(parents=True)
    previous = os.environ.get("MIA_CACHE_DIR")
    os.environ["MIA_CACHE_DIR"] = str(CACHE)
    try:
        notebooks = numbered_notebooks()
        times = {state: timed_pass(notebooks) for state in ("cold", "warm")}
    finally:
        if previous is None:
            os.environ.pop("MIA_CACHE_DIR", None)
        else:
            os.environ["MIA_CACHE_DIR"] = previous

    def shown(value):
        return "failed" if value is None else f"{value:.0f}"

    totals = {state: sum(v for v in times[state].values() if v is not None) for state in times}
    failed = any(v is None for state in times for v in times[state].values())
    lines = ["## Notebooks at `quick` (`make figures`, papermill; `benchmarks/bench_notebooks.py`)", "",
             "Cold: an empty cache; warm: the same run again, everything cached.", "",
             "| notebook | cold s | warm s |", "|---|---|---|"]
    lines += [f"| {name} | {shown(times['cold'][name])} | {shown(times['warm'][name])} |" for name in times["cold"]]
    lines += [f"| **all** | **{totals['cold']:.0f}** ({totals['cold'] / 60:.1f} min) | "
              f"**{totals['warm']:.0f}** ({totals['warm'] / 60:.1f} min) |", ""]
    verdicts = [f"{state} {totals[state] / 60:.1f} min vs target {TARGETS[state] / 60:.0f} min: "
                f"{'met' if totals[state] <= TARGETS[state] and not failed else 'not met'}" for state in TARGETS]
    lines += ["Targets (issue 8): " + "; ".join(verdicts) + ("; some notebooks failed" if failed else "") + ".", ""]
    return lines + cost_lines(times["cold"])


def cost_lines(cold: dict, folder=None) -> list[str]:
    """Where the cold pass spent its time: the computation seconds each cache entry recorded, per
    notebook and kind (``folder``: the pass's cache, default this benchmark's); "other" is the rest
    of the notebook's wall time (start-up, uncached work)."""
    table = cache.cost_table(folder or CACHE)
    kinds = sorted(table.kind.unique())
    lines = ["Where the cold time went: seconds of computation recorded in the cache entries each notebook "
             "created (entries in brackets); other: the rest of its wall time (kernel start, imports, "
             "uncached work, figures). Entries are inclusive: one computed inside another (a prior trained "
             "by the first attack that needs it) counts in both, so other can be negative.", "",
             "| notebook | " + " | ".join(kinds) + " | other |", "|---" * (len(kinds) + 2) + "|"]
    for name, wall in cold.items():
        rows = table[table.notebook == name.removesuffix(".ipynb")].set_index("kind")
        cells = [f"{rows.loc[k, 'seconds']:.0f} ({rows.loc[k, 'count']})" if k in rows.index else "" for k in kinds]
        other = "" if wall is None else f"{wall - rows.seconds.sum():.0f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {other} |")
    return lines + [""]
