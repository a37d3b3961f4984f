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
from benchmarks.bench_training import matmul_peak

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTIONS = {"training": bench_training.section, "attacks": bench_attacks.section, "defenses": bench_defenses.section,
            "notebooks": bench_notebooks.section,  # notebooks: about 25 minutes (every notebook cold, then warm)
            "sweep": bench_sweep.section}  # sweep: about 3 minutes


def main(names: list[str]) -> None:
    unknown = set(names) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(SECTIONS)}")
    peak = matmul_peak()
    lines = ["# Benchmarks", "",
             f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
             f"torch {torch.__version__}. Measured fp32 matmul peak (1024², best of 3 s): "
             f"{peak / 1e9:.1f} GFLOP/s. All sections come from one run.", ""]
    for name in names or SECTIONS:
        lines += SECTIONS[name](peak)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
