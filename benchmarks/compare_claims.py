"""Does a run elsewhere give the committed verdicts? Every claim reading judged on two figure folders.

``python -m benchmarks.compare_claims FOLDER REVISION "WHAT RAN"`` judges the claim rows of ``FOLDER`` (the
``figures/`` of a run elsewhere: another machine, a cold cache, another revision) and of the
committed ``figures/`` by the one rule, reading by reading (:func:`helpers.claims.compare_runs`), and
replaces its section of RESULTS.md with how many readings keep their verdict and the readings whose
mean moved most. A run that rewrote only seed 0 (``make figures``) is judged with the committed
seeds 1 and 2 (each seed's own run decides: :func:`helpers.claims.collect_rows`).
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from benchmarks.bench_sweep import replace_section
from helpers.claims import collect_rows, compare_runs
from helpers.core import paths

TITLE = "## The committed verdicts, recomputed elsewhere (`benchmarks/compare_claims.py`)"
NAMES = ("committed", "this run")


def section(folder: Path, revision: str, what: str, shown: int = 5) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compared = compare_runs(collect_rows(paths.FIGURES), collect_rows(folder), NAMES)
    moved = compared.assign(change_in_mean=(compared[f"mean {NAMES[1]}"] / compared[f"mean {NAMES[0]}"] - 1).abs())
    largest = moved.sort_values("change_in_mean", ascending=False).head(shown)
    counts = compared.change.value_counts()
    lines = [TITLE, "", f"Revision {revision}, {time.strftime('%Y-%m-%d')}: the claim rows of {what}, against "
             f"the committed ones. {int(counts.get('same', 0))} of {len(compared)} readings keep their verdict "
             f"({int(counts.get('moved', 0))} moved, {int(counts.get('reversed', 0))} reversed)."]
    lines += [f"Rows that differ between the runs that recorded them: {w.message}" for w in caught]
    lines += ["", "The readings whose mean moved most:", "",
              "| claim | reading | committed | this run | verdict committed | verdict this run |", "|---|---|---|---|---|---|"]
    for _, r in largest.iterrows():
        lines.append(f"| {r['id']} | {r['reading'] or '—'} | {r[f'mean {NAMES[0]}']:.4g} | {r[f'mean {NAMES[1]}']:.4g} | "
                     f"{r[f'verdict {NAMES[0]}']} | {r[f'verdict {NAMES[1]}']} |")
    return lines + [""]


if __name__ == "__main__":
    folder, revision, what = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    results = Path(__file__).with_name("RESULTS.md")
    lines = section(folder, revision, what)
    results.write_text(replace_section(results.read_text(), lines, TITLE))
    print("\n".join(lines))
