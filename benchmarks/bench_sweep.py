"""Overhead of the Ray sweep (helpers/pipeline/sweep.py) over running the same notebooks one after another.

Notebook 00 at smoke, seeds 0-3, both ways cold (each against its own empty cache in
``build/bench-sweep``): one after another with papermill (:func:`helpers.pipeline.run.execute`, as
``make claims`` did before Ray), then as a sweep on a local Ray instance started for it (its start
and shutdown are charged to it), one task at a time (2 CPUs each). Target (issue 18): under 5%.
``python -m benchmarks.bench_sweep`` replaces this section of RESULTS.md and leaves the others;
``make benchmarks BENCH=sweep`` runs it with the rest.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from helpers.core import paths
from helpers.pipeline import run as pipeline
from helpers.pipeline import sweep

WORK = paths.BUILD / "bench-sweep"
SEEDS = [0, 1, 2, 3]
TARGET = 0.05
# make claims at quick, cold: notebooks 02 and 04-07 at two seeds, from the notebooks section of RESULTS.md
CLAIMS_QUICK_SECONDS = 2 * (273 + 316 + 227 + 138 + 114)
TITLE = "## Ray sweep overhead (notebook 00 at smoke, seeds 0-3; `benchmarks/bench_sweep.py`)"


def _use_cache(name: str) -> None:
    folder = WORK / name / "cache"
    folder.mkdir(parents=True)
    os.environ["MIA_CACHE_DIR"] = str(folder)


def one_after_another(jobs) -> float:
    _use_cache("sequential")
    start = time.perf_counter()
    for job in jobs:
        staging = WORK / "sequential" / "figures" / f"seed{job.seed}"
        pipeline.execute(job.path, job.parameters(), WORK / "sequential" / f"seed{job.seed}.ipynb", staging)
    return time.perf_counter() - start


def on_ray(jobs) -> tuple[float, float]:
    """Wall seconds of the whole sweep, and the seconds its tasks spent executing notebooks."""
    import json

    import ray

    _use_cache("ray")
    start = time.perf_counter()
    report = sweep.sweep(jobs, WORK / "ray" / "out", WORK / "ray" / "figures", cpus=2, retries=0, progress=False)
    ray.shutdown()
    seconds = time.perf_counter() - start
    if report.failed or len(report.finished) != len(jobs):
        raise RuntimeError(f"the sweep did not run every job: {report}")
    in_tasks = sum(json.loads((job.folder(WORK / "ray" / "out") / sweep.RECORD).read_text())["seconds"]
                   for job in jobs)
    return seconds, in_tasks


def section(peak: float | None = None) -> list[str]:
    shutil.rmtree(WORK, ignore_errors=True)
    previous = {name: os.environ.get(name) for name in ("MIA_CACHE_DIR", "PYTHONPATH")}
    os.environ["PYTHONPATH"] = str(paths.ROOT)  # both ways run this checkout's helpers in the kernel
    jobs = [sweep.Job("00_quickstart", "smoke", seed) for seed in SEEDS]
    try:
        sequential, (ray_path, in_tasks) = one_after_another(jobs), on_ray(jobs)
    finally:
        for name, value in previous.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    overhead = ray_path / sequential - 1
    verdict = "met" if overhead < TARGET else "not met"
    return [TITLE, "",
            "Both ways cold, each with its own empty cache; the Ray time includes starting and stopping the "
            "local instance. One task at a time (2 CPUs per task on 2 cores).", "",
            "| way | wall s | per notebook s |", "|---|---|---|",
            f"| papermill, one after another | {sequential:.1f} | {sequential / len(jobs):.1f} |",
            f"| Ray sweep (local instance) | {ray_path:.1f} | {ray_path / len(jobs):.1f} |", "",
            f"Overhead {100 * overhead:+.1f}% vs target 5%: {verdict}. Of the Ray wall time, "
            f"{in_tasks:.1f} s went to executing the notebooks inside the tasks "
            f"({100 * (in_tasks / sequential - 1):+.1f}% vs one after another) and "
            f"{ray_path - in_tasks:.1f} s to starting Ray and its workers, shipping results and shutting down: "
            f"a fixed cost, {100 * (ray_path - in_tasks) / CLAIMS_QUICK_SECONDS:.1f}% of a cold `make claims` "
            f"at quick ({CLAIMS_QUICK_SECONDS / 60:.0f} min by the notebooks section).", ""]


def replace_section(text: str, lines: list[str], title: str = TITLE) -> str:
    """RESULTS.md with the section headed ``title`` replaced (or appended); other sections kept."""
    start = text.find(title)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + "\n".join(lines)
    end = text.find("\n## ", start + len(title))
    return text[:start] + "\n".join(lines) + (text[end:] if end >= 0 else "")


if __name__ == "__main__":
    results = Path(__file__).with_name("RESULTS.md")
    lines = section()
    results.write_text(replace_section(results.read_text(), lines))
    print("\n".join(lines))
