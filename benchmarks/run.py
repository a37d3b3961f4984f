"""Run every benchmark in one process on one machine and write benchmarks/RESULTS.md.

``make benchmarks`` (or ``python -m benchmarks.run``). Ratios within one RESULTS.md are comparable;
absolute numbers are not portable between machines.
"""
from __future__ import annotations

import platform
import sys
from pathlib import Path

import torch

from benchmarks import bench_attacks, bench_defenses, bench_notebooks, bench_sweep, bench_training
from benchmarks.bench_sweep import replace_section
from benchmarks.bench_training import matmul_peak
from helpers.pipeline import timings

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTIONS = {"training": bench_training.section, "attacks": bench_attacks.section, "defenses": bench_defenses.section,
            "notebooks": bench_notebooks.section,  # notebooks: about 25 minutes (every notebook cold, then warm)
            "sweep": bench_sweep.section}  # sweep: about 7 minutes


def main(names: list[str]) -> None:
    """Run the named benchmarks (default all of :data:`SECTIONS`) and replace their sections of
    RESULTS.md; the sections of benchmarks run apart (bench_claims, bench_test) are kept."""
    unknown = set(names) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(SECTIONS)}")
    peak = matmul_peak()
    header = ["# Benchmarks", "",
              f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
              f"torch {torch.__version__}. Measured fp32 matmul peak (1024², best of 3 s): "
              f"{peak / 1e9:.1f} GFLOP/s. Sections that come from another run say so.", ""]
    text = RESULTS.read_text() if RESULTS.exists() else ""
    text = "\n".join(header) + text[text.find("\n## ") + 1:] if "\n## " in text else "\n".join(header)
    for name in names or SECTIONS:
        lines = SECTIONS[name](peak)
        text = replace_section(text, lines, lines[0])
        print("\n".join(lines))
    RESULTS.write_text(text)
    timings.update()   # the README quotes these tables (helpers/pipeline/timings.py)


if __name__ == "__main__":
    main(sys.argv[1:])
