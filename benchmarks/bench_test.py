"""`make test` from a fresh clone: the install, then the tests, timed apart.

``python -m benchmarks.bench_test`` clones this checkout's HEAD into a temporary folder, runs
``make env`` (a new .venv from the package registry) and ``make test`` there, and appends one row
to its section of RESULTS.md; earlier rows are kept, so the section is the history the target is
judged on (target: under 15 minutes on 2 cores). About 15-30 minutes; not part of ``make
benchmarks``. The README's timings block quotes the last row (helpers/pipeline/timings.py).
"""
from __future__ import annotations

import datetime
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_sweep import replace_section
from helpers.core import paths
from helpers.pipeline import timings

TITLE = timings.TEST_SECTION + " (`benchmarks/bench_test.py`)"
HEADER = ["| revision | date | install s | tests s | total s | result |", "|---|---|---|---|---|---|"]
TARGET_S = 15 * 60
LOG = paths.ROOT / "build" / "bench_test.log"  # the last run's full `make test` output


def timed(command: list[str], cwd: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode, done.stdout + done.stderr


def measure() -> dict:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(clone)], check=True)
        install, rc, log = timed(["make", "env"], clone)
        if rc:
            raise SystemExit(f"make env failed:\n{log[-2000:]}")
        tests, rc, log = timed(["make", "test"], clone)
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text(log, encoding="utf-8")  # the slowest tests (--durations) are in it
    summary = "; ".join(summaries(log))
    return {"revision": revision, "date": datetime.date.today().isoformat(), "install": install, "tests": tests,
            "result": ("passed" if rc == 0 else "FAILED") + (f" ({summary})" if summary else "")}


def summaries(log: str) -> list[str]:
    """pytest's closing line of each session in ``log`` (make test runs two: notebooks, then tests/)."""
    return [line.strip("= ") for line in log.splitlines()
            if line.startswith("=") and (" passed" in line or " failed" in line) and " in " in line]


def section(previous_rows: list[str], run: dict) -> list[str]:
    row = (f"| {run['revision']} | {run['date']} | {run['install']:.0f} | {run['tests']:.0f} | "
           f"{run['install'] + run['tests']:.0f} | {run['result']} |")
    total = run["install"] + run["tests"]
    verdict = ("met" if total < TARGET_S else "not met") if run["result"].startswith("passed") \
        else "not judged, the run failed"
    return [TITLE, "", "Each row: a clone of that revision, `make env` then `make test`, on this machine's 2 cores.",
            "", *HEADER, *previous_rows, row, "",
            f"Target: under {TARGET_S // 60} minutes: {verdict} "
            f"({total / 60:.1f} min).", ""]


def earlier_rows(text: str) -> list[str]:
    try:
        lines = timings.section_lines(text, timings.TEST_SECTION)
    except ValueError:
        return []
    return [line for line in lines if line.startswith("|")][2:]


if __name__ == "__main__":
    results = Path(__file__).with_name("RESULTS.md")
    text = results.read_text()
    lines = section(earlier_rows(text), measure())
    results.write_text(replace_section(text, lines, TITLE))
    timings.update()
    print("\n".join(lines))
    sys.exit(0)
