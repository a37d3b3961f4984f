"""The GPU check: one `paper`-scale job end to end on CUDA, beside the 2-core CPU's `quick` run of the
same job (``benchmarks/gpu_check.sh``; ``python -m benchmarks.gpu_check``).

The job is notebook 00 (train the classifier, attack it at a shallow and a deep cut, beside the
blind reference of the mean auxiliary image), executed by papermill as ``make figures`` would, with an empty cache in ``build/gpu-check/`` so nothing of ``data/cache`` or ``figures/`` is
touched. The report puts its wall time beside the CPU's cold ``quick`` time of the same notebook
(the notebooks table of ``benchmarks/RESULTS.md``: one source for that number) and checks the
device's results against the CPU's committed ones (``figures/00_reconstructions.csv``) in
direction: the order of the attack's MSE over the shallow cut, the deep cut and the blind
reference must be the same. Exit status: 0 when the job ran and the direction agrees, 1 when it
disagrees, 2 when the job failed, 3 when no CUDA device is visible (nothing is run).
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

from helpers.core import paths

NOTEBOOK = "00_quickstart.ipynb"
CSV = "00_reconstructions.csv"
FOLDER = paths.BUILD / "gpu-check"
BUDGET_S = 600   # the limit for the device run


def cpu_seconds(results: str, notebook: str = NOTEBOOK) -> float:
    """The notebook's cold ``quick`` seconds on the 2-core CPU, from RESULTS.md's notebooks table."""
    match = re.search(rf"^\| {re.escape(notebook)} \| (\d+(?:\.\d+)?) \| \d", results, flags=re.M)
    if match is None:
        raise ValueError(f"benchmarks/RESULTS.md has no cold time of {notebook} (run `make benchmarks BENCH=notebooks`)")
    return float(match.group(1))


def mse_order(table: pd.DataFrame) -> list[str]:
    """The rows of a reconstructions table (``cut``, ``mse``) from the lowest MSE to the highest."""
    return list(table.sort_values("mse").cut)


def same_direction(device: pd.DataFrame, cpu: pd.DataFrame) -> bool:
    """Do both runs order the shallow cut, the deep cut and the blind reference alike by MSE?"""
    return mse_order(device) == mse_order(cpu)


def run_job(device: str, scale: str) -> tuple[float, pd.DataFrame]:
    """Notebook 00 at ``scale`` on ``device`` from an empty cache: (seconds, its reconstructions table)."""
    import os

    from helpers.pipeline.run import execute

    shutil.rmtree(FOLDER, ignore_errors=True)
    os.environ["MIA_CACHE_DIR"] = str(FOLDER / "cache")
    seconds = execute(paths.NOTEBOOKS / NOTEBOOK, {"scale": scale, "device": device}, FOLDER / NOTEBOOK,
                      FOLDER / "figures")
    return seconds, pd.read_csv(FOLDER / "figures" / CSV)


def report(device_name: str, scale: str, seconds: float, cpu: float, agrees: bool, table: pd.DataFrame) -> str:
    lines = ["## GPU check (`benchmarks/gpu_check.py`)", "",
             f"Notebook 00 at `{scale}` on {device_name}, from an empty cache: {seconds:.0f} s "
             f"({'within' if seconds <= BUDGET_S else 'over'} the {BUDGET_S} s budget); the 2-core CPU's cold "
             f"`quick` run of the same notebook: {cpu:.0f} s.",
             f"Direction against the CPU's committed `quick` results (MSE order of the cuts and the blind "
             f"reference): {'the same' if agrees else 'different'}.", "", "| row | MSE on the device |", "|---|---|"]
    lines += [f"| {row.cut} | {row.mse:.4g} |" for row in table.itertuples()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a dry run of this script")
    parser.add_argument("--scale", default="paper", choices=["smoke", "quick", "paper"])
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible; nothing was run", file=sys.stderr)
        return 3
    device_name = torch.cuda.get_device_name(0) if args.device == "cuda" else "the CPU (dry run)"
    cpu = cpu_seconds((Path(__file__).parent / "RESULTS.md").read_text(encoding="utf-8"))
    try:
        seconds, table = run_job(args.device, args.scale)
    except Exception as error:   # papermill's error names the failing cell
        print(f"gpu_check: the job failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    agrees = same_direction(table, pd.read_csv(paths.FIGURES / CSV))
    text = report(device_name, args.scale, seconds, cpu, agrees, table)
    (FOLDER / "report.md").write_text(text, encoding="utf-8")
    print(text)
    return 0 if agrees else 1


if __name__ == "__main__":
    sys.exit(main())
