"""Overhead of the Ray sweep (helpers/pipeline/sweep.py) over running the same notebooks one after another.

Notebook 00 at smoke, seeds 0-3, both ways cold (each against its own empty cache in
``build/bench-sweep``): one after another with papermill (:func:`helpers.pipeline.run.execute`, as
``make claims`` did before Ray), then as a sweep on a local Ray instance started for it (its start
and shutdown are charged to it), one task at a time (2 CPUs each). Target (issue 18): under 5%.
``python -m benchmarks.bench_sweep`` replaces this section of RESULTS.md and leaves the others;
``make benchmarks BENCH=sweep`` runs it with the rest. Then the same sweep with two workers side by
side (1 CPU per task): throughput against workers and the per-task cost beyond the notebook, from
which a cluster's wall time can be predicted.
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


def on_ray(jobs, cpus: float = 2, name: str = "ray") -> tuple[float, float]:
    """Wall seconds of the whole sweep (``cpus`` per task: 2 runs one task at a time on 2 cores, 1
    runs two workers side by side), and the seconds its tasks spent executing notebooks."""
    import json

    import ray

    _use_cache(name)
    start = time.perf_counter()
    report = sweep.sweep(jobs, WORK / name / "out", WORK / name / "figures", cpus=cpus, retries=0, progress=False)
    ray.shutdown()
    seconds = time.perf_counter() - start
    if report.failed or len(report.finished) != len(jobs):
        raise RuntimeError(f"the sweep did not run every job: {report}")
    in_tasks = sum(json.loads((job.folder(WORK / name / "out") / sweep.RECORD).read_text())["seconds"]
                   for job in jobs)
    return seconds, in_tasks


def workers_lines(jobs, one: tuple[float, float], two: tuple[float, float]) -> list[str]:
    """Throughput with one and with two workers, and what a task costs beyond its notebook."""
    rows = []
    for workers, (wall, in_tasks) in ((1, one), (2, two)):
        rows.append(f"| {workers} | {wall:.1f} | {3600 * len(jobs) / wall:.0f} | {in_tasks / len(jobs):.1f} | "
                    f"{(wall - in_tasks / workers) / len(jobs):.1f} |")
    return ["### Throughput: one worker or two", "",
            f"The same {len(jobs)} jobs, cold, on a local instance: one worker (2 CPUs per task) or two side by "
            "side (1 CPU each) on the 2 cores. *Beyond the notebook* is (wall − notebook seconds / workers) / jobs: "
            "Ray's start, shipping and shutdown spread over the tasks.", "",
            "| workers | wall s | jobs per hour | notebook s per job | beyond the notebook s per job |",
            "|---|---|---|---|---|", *rows, "",
            f"Two workers on two cores run {one[0] / two[0]:.2f}× as fast as one: the notebooks then share the "
            f"cores (a job inside its task takes {two[1] / one[1]:.2f}× as long). On a cluster of W nodes, each "
            "as fast as this machine, a sweep of N such jobs takes about ⌈N / W⌉ × (notebook + beyond) "
            "seconds, from the one-worker row.", ""]


def measure() -> tuple[list, float, tuple[float, float], tuple[float, float]]:
    """(jobs, seconds one after another, (wall, in tasks) with one worker, the same with two)."""
    shutil.rmtree(WORK, ignore_errors=True)
    previous = {name: os.environ.get(name) for name in ("MIA_CACHE_DIR", "PYTHONPATH")}
    os.environ["PYTHONPATH"] = str(paths.ROOT)  # every way runs this checkout's helpers in the kernel
    jobs = [sweep.Job("00_quickstart", "smoke", seed) for seed in SEEDS]
    try:
        return jobs, one_after_another(jobs), on_ray(jobs), on_ray(jobs, cpus=1, name="ray-two-workers")
    finally:
        for name, value in previous.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


def section(peak: float | None = None) -> list[str]:
    """This benchmark's section of RESULTS.md: the overhead, then the throughput with 1 and 2 workers."""
    jobs, sequential, one, two = measure()
    ray_path, in_tasks = one
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
            f"at quick ({CLAIMS_QUICK_SECONDS / 60:.0f} min by the notebooks section).", "",
            *workers_lines(jobs, one, two)]


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
