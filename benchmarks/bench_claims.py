"""Cold ``make figures`` + ``make claims`` at quick on this machine, and the overhead of the Ray
sweep over running the same claim notebooks one after another with papermill (issue 18).

1. ``make figures``: every notebook at quick with papermill, from an empty cache; timed.
2. The cache is copied as it stands (warmed by ``make figures`` only).
3. ``make claims``: seeds 1 and 2 of the claim notebooks, each seed one Ray sweep on a local
   instance (its start and shutdown charged to it), then notebook 08; timed.
4. Seed 1's jobs again, one after another with papermill (:func:`helpers.pipeline.run.execute`), on the
   copy of step 2: the same work from the same cache state as step 3's first sweep.

Steps 1 and 3 write this checkout's figures/ (they *are* ``make figures`` and ``make claims``), so
run it in a scratch clone: ``MIA_CACHE_DIR=<empty folder> python -m benchmarks.bench_claims``.
It takes about an hour on 2 cores and replaces its own section of RESULTS.md. Not part of
``make benchmarks``.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from helpers.core import paths
from helpers.pipeline import run as pipeline
from helpers.pipeline import sweep

WORK = paths.BUILD / "bench-claims"
TARGETS = {"cold": 60 * 60, "overhead": 0.05}
TITLE = "## Cold `make figures` + `make claims`, and the Ray overhead (`benchmarks/bench_claims.py`)"


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def make_figures() -> None:
    if pipeline.main(["--scale", "quick"]) != 0:
        raise RuntimeError("make figures failed")


def ray_claims(seed: int) -> list[sweep.Job]:
    import ray

    jobs = sweep.grid(pipeline.CLAIM_NOTEBOOKS, [seed], [sweep.claims.DEFAULT_DATASET], ["quick"])
    report = sweep.sweep(jobs, paths.BUILD / "sweep", retries=0, progress=False)
    ray.shutdown()
    if report.failed or report.skipped:
        raise RuntimeError(f"the sweep did not run every job afresh: {report}")
    return jobs


def one_after_another(jobs: list[sweep.Job], cache: Path) -> dict:
    os.environ["MIA_CACHE_DIR"] = str(cache)
    return {job.notebook: pipeline.execute(job.path, job.parameters(), WORK / "sequential" / f"{job.notebook}.ipynb",
                                           WORK / "sequential" / "figures" / job.notebook) for job in jobs}


def in_task_seconds(jobs: list[sweep.Job]) -> dict:
    return {job.notebook: json.loads((job.folder(paths.BUILD / "sweep") / sweep.RECORD).read_text())["seconds"]
            for job in jobs}


def section() -> list[str]:
    cache = Path(os.environ.get("MIA_CACHE_DIR", ""))
    if not cache.is_dir() or any(cache.iterdir()):
        raise SystemExit("set MIA_CACHE_DIR to an empty folder: the benchmark starts cold")
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(paths.BUILD / "sweep", ignore_errors=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(paths.ROOT), os.environ.get("PYTHONPATH")) if p)
    figures = timed(make_figures)
    shutil.copytree(cache, WORK / "cache-after-figures")
    seconds, jobs_of = {}, {}
    for seed in (1, 2):
        start = time.perf_counter()
        jobs_of[seed] = ray_claims(seed)
        seconds[seed] = time.perf_counter() - start
    claims_08 = timed(lambda: pipeline.main(["--scale", "quick", "--only", "08"]))
    jobs = jobs_of[1]
    tasks = in_task_seconds(jobs)
    sequential = one_after_another(jobs, WORK / "cache-after-figures")
    os.environ["MIA_CACHE_DIR"] = str(cache)
    claims_total = seconds[1] + seconds[2] + claims_08
    total = figures + claims_total
    serial = sum(sequential.values())
    overhead = seconds[1] / serial - 1
    rows = [f"| {job.notebook} | {sequential[job.notebook]:.0f} | {tasks[job.notebook]:.0f} |" for job in jobs]
    return [TITLE, "",
            "One run on this machine, cold (an empty cache). `make claims` is two Ray sweeps (seeds 1 and 2 of "
            "02, 04-07, one task at a time with 2 CPUs each, a local instance started and stopped for each) "
            "and notebook 08.", "",
            "Scope: every notebook as `make figures` runs it, the prior and tuned attacks of 03 §6 and 07 §6 included.", "",
            "| step | wall s | min |", "|---|---|---|",
            f"| `make figures` (every notebook, seed 0) | {figures:.0f} | {figures / 60:.1f} |",
            f"| `make claims`: seed 1 on Ray | {seconds[1]:.0f} | {seconds[1] / 60:.1f} |",
            f"| `make claims`: seed 2 on Ray | {seconds[2]:.0f} | {seconds[2] / 60:.1f} |",
            f"| `make claims`: notebook 08 | {claims_08:.0f} | {claims_08 / 60:.1f} |",
            f"| **together** | **{total:.0f}** | **{total / 60:.1f}** |", "",
            f"Target (issue 18): under 60 minutes together: {'met' if total < TARGETS['cold'] else 'not met'}.", "",
            "Overhead of Ray: seed 1's jobs again, one after another with papermill, from a copy of the cache "
            "as `make figures` left it (the state the Ray sweep of seed 1 started from).", "",
            "| notebook | papermill, one after another s | inside its Ray task s |", "|---|---|---|", *rows,
            f"| **seed 1, wall** | **{serial:.0f}** | **{seconds[1]:.0f}** (sweep, Ray start and stop included) |", "",
            f"Overhead {100 * overhead:+.1f}% vs target 5%: {'met' if overhead < TARGETS['overhead'] else 'not met'}. "
            f"Of the sweep's wall time, {sum(tasks.values()):.0f} s went to executing the notebooks inside "
            f"the tasks and {seconds[1] - sum(tasks.values()):.0f} s to starting Ray and its workers, shipping "
            "results and shutting down.", ""]


if __name__ == "__main__":
    from benchmarks.bench_sweep import replace_section

    lines = section()
    results = Path(__file__).with_name("RESULTS.md")
    results.write_text(replace_section(results.read_text(), lines, TITLE))
    print("\n".join(lines))
    sys.exit(0)
