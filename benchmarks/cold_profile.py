"""Where a cold ``make figures`` spends its time, from a run that already happened.

``python -m benchmarks.cold_profile CACHE TIMINGS [REVISION]`` reads the wall time of each notebook
from a ``timings.csv`` the pipeline wrote (``build/timings.csv``: the last line per notebook) and the
computation seconds each cache entry of that run recorded (:func:`helpers.core.cache.cost_table` on
the run's cache folder), and replaces its section of RESULTS.md: the same tables as the notebooks
section of ``benchmarks/bench_notebooks.py``, for a run made with ``MIA_CACHE_DIR`` pointing at an
empty folder (e.g. a checkout of the revision measured, so that the code does not change under it).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks.bench_notebooks import cost_lines
from benchmarks.bench_sweep import replace_section

TITLE = "## Cold `make figures`, notebook by notebook (`benchmarks/cold_profile.py`)"


def section(cache_folder: Path, timings: Path, revision: str) -> list[str]:
    walls = pd.read_csv(timings).drop_duplicates("notebook", keep="last").set_index("notebook").seconds
    cold = {name: float(seconds) for name, seconds in walls.items()}
    total = sum(cold.values())
    lines = [TITLE, "", f"Revision {revision}, measured {time.strftime('%Y-%m-%d')}: `python -m helpers.pipeline --scale quick` "
             "from an empty cache; every notebook that finished, in order.", "",
             "| notebook | cold s |", "|---|---|"]
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in cold.items()]
    lines += [f"| **these notebooks** | **{total:.0f}** ({total / 60:.1f} min) |", ""]
    return lines + cost_lines(cold, cache_folder)


if __name__ == "__main__":
    cache_folder, timings = Path(sys.argv[1]), Path(sys.argv[2])
    revision = sys.argv[3] if len(sys.argv) > 3 else "unknown"
    results = Path(__file__).with_name("RESULTS.md")
    lines = section(cache_folder, timings, revision)
    results.write_text(replace_section(results.read_text(), lines, TITLE))
    print("\n".join(lines))
