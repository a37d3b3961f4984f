"""``make figures``: run every numbered notebook with papermill and publish its figures.

Each notebook runs in order into ``build/executed/`` with the ``scale`` parameter. Its figures are
written to a staging folder (``$MIA_FIGURES_DIR``) and moved into ``figures/`` only when the whole
notebook succeeded, so a failure leaves the figures of earlier runs intact; the figure registry
``figures/MANIFEST.yaml`` is updated at the same moment (``helpers/pipeline/manifest.py``). A failure stops
the run with the notebook's name and the failing cell. Wall times go to ``build/timings.csv``.
Run ``python -m helpers.pipeline --help``.
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

import filelock

from .. import claims
from ..core import cache, paths
from ..core.config import SCALE_ENV_VAR, SCALES, check_choice
from ..core.io import atomic_write_bytes
from ..core.kernels import prepare_kernels
from ..core.notebook_file import write_notebook
from . import manifest, publish, timings


def numbered_notebooks(only: list[str] | None = None) -> list[Path]:
    """``notebooks/NN_*.ipynb`` in order; ``only`` keeps those whose number or name is listed."""
    notebooks = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {item.strip() for chunk in only for item in chunk.split(",") if item.strip()}
        notebooks = [nb for nb in notebooks if nb.name[:2] in wanted or nb.stem in wanted]
        if not notebooks:
            raise SystemExit(f"no notebook matches {sorted(wanted)}")
    return notebooks


def check_parameters(notebook: Path, parameters: dict) -> dict:
    """Refuse parameter names the notebook does not declare (papermill would only warn).

    Returns every declared parameter with the value it will run with.
    """
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"{notebook.name} declares no parameter {', '.join(unknown)}; "
                         f"it declares: {', '.join(declared) or 'none'}")
    return {name: parameters.get(name, ast.literal_eval(info["default"])) for name, info in declared.items()}


def execute(notebook: Path, parameters: dict, executed: Path, staging: Path) -> float:
    """Run one notebook with papermill, its figures staged in ``staging``; returns seconds."""
    import papermill

    prepare_kernels()
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    executed.parent.mkdir(parents=True, exist_ok=True)
    os.environ[paths.FIGURES_ENV_VAR] = str(staging)
    os.environ[cache.NOTEBOOK_ENV_VAR] = notebook.stem  # cache entries record who computed them
    start, logged = time.perf_counter(), cache.warning_log_size()
    try:
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters,
                                   kernel_name="python3", cwd=str(paths.NOTEBOOKS), progress_bar=False)
    finally:
        os.environ.pop(paths.FIGURES_ENV_VAR, None)
        os.environ.pop(cache.NOTEBOOK_ENV_VAR, None)
        for line in cache.warnings_since(logged):  # the kernel's warnings stay in the executed copy
            print(f"  cache warning: {line}", file=sys.stderr, flush=True)
    return time.perf_counter() - start


def run_notebook(notebook: Path, parameters: dict, folder: Path | None = None) -> float:
    """Execute one notebook; on success publish its staged figures (``folder``, default figures/)
    and their registry entries. Returns seconds."""
    effective = check_parameters(notebook, parameters)
    revision = manifest.git_revision()
    staging = paths.BUILD / "staged-figures" / notebook.stem
    seconds = execute(notebook, parameters, paths.BUILD / "executed" / notebook.name, staging)
    manifest.publish(staging, notebook, effective, revision, folder)
    return seconds


# A notebook says itself what its claims runs (helpers/pipeline/sweep.py, make claims) leave out, in
# its metadata: {"companion": {"seed_run_parameters": {...}}} (02's other datasets and 07's comparison
# with the strong attacker feed no claim; `make claims-strong` sets the attacker instead)
METADATA_KEY, SEED_RUN_KEY = "companion", "seed_run_parameters"
CLAIM_NOTEBOOKS = list(claims.CLAIM_NOTEBOOKS)


def seed_parameters(notebook: Path, scale: str, seed: int, dataset: str | None = None) -> dict:
    """The parameters of a claims run of ``notebook`` (``make claims`` and helpers/pipeline/sweep.py)."""
    other = {"dataset": dataset} if dataset not in (None, claims.DEFAULT_DATASET) else {}
    return {"scale": scale, "seed": seed, **other, **seed_run_overrides(notebook)}


def seed_run_overrides(notebook: Path) -> dict:
    """The parameters ``notebook``'s metadata sets for its claims runs (each one it declares)."""
    overrides = json.loads(notebook.read_text())["metadata"].get(METADATA_KEY, {}).get(SEED_RUN_KEY, {})
    if not isinstance(overrides, dict):
        raise ValueError(f"{notebook.name}: metadata {METADATA_KEY}.{SEED_RUN_KEY} must be a dict, got {overrides!r}")
    check_parameters(notebook, overrides)
    return dict(overrides)


def keep_claim_rows(rows: bytes, notebook: Path, seed: int, folder: Path | None = None,
                    dataset: str | None = None, variant: str | None = None) -> Path:
    """Write one run's claim rows atomically to :func:`helpers.claims.seed_file`; returns the path."""
    return atomic_write_bytes(claims.seed_file(notebook.name[:2], seed, folder, dataset, variant), rows)


def record_timing(notebook: Path, scale: str, seconds: float) -> None:
    """Append one line to build/timings.csv: notebook, scale, wall seconds, when it finished."""
    path = paths.BUILD / "timings.csv"
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["notebook", "scale", "seconds", "finished"])
        writer.writerow([notebook.name, scale, f"{seconds:.1f}", time.strftime("%Y-%m-%dT%H:%M:%S")])


CHECKED_TAG = "nbval-check-output"
CLAIMS_NOTEBOOK = "08_paper_claims"  # after it runs, the README's claims table is rewritten


def store_checked_outputs(notebook: Path) -> int:
    """Execute ``notebook`` at smoke scale and store the outputs of its cells tagged
    ``nbval-check-output`` (deterministic at every scale; nbval compares them). All other cells stay
    without outputs. The notebook is rewritten only when execution succeeded. Returns the cell count.
    """
    import nbformat
    import papermill

    prepare_kernels()
    refreshed = paths.BUILD / "refresh" / notebook.name
    refreshed.parent.mkdir(parents=True, exist_ok=True)
    os.environ[SCALE_ENV_VAR] = "smoke"
    os.environ[paths.FIGURES_ENV_VAR] = str(paths.BUILD / "refresh" / "figures")
    try:
        papermill.execute_notebook(str(notebook), str(refreshed), kernel_name="python3",
                                   cwd=str(paths.NOTEBOOKS), progress_bar=False)
    finally:
        os.environ.pop(SCALE_ENV_VAR, None)
        os.environ.pop(paths.FIGURES_ENV_VAR, None)
    source, executed = nbformat.read(notebook, as_version=4), nbformat.read(refreshed, as_version=4)
    stored = 0
    for cell, done in zip(source.cells, executed.cells):
        if cell.cell_type != "code":
            continue
        checked = CHECKED_TAG in cell.metadata.get("tags", [])
        cell.outputs = [o for o in done.outputs if o.get("name") != "stderr"] if checked else []
        cell.execution_count = 1 if checked else None
        stored += checked
    write_notebook(notebook, source)
    return stored


LOCK = paths.BUILD / "figures.lock"


def one_run_at_a_time() -> "filelock.FileLock":
    """The checkout's figures lock, taken at once or not at all (two runs share the staging and
    executed folders and figures/: the second would delete what the first publishes)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(LOCK, timeout=0)


def run_all(notebooks: list[Path], scale: str) -> int:
    """Run and publish ``notebooks`` in order; stop at the first that fails."""
    # smoke-scale figures mean nothing: they never replace the published ones
    folder = paths.BUILD / "smoke-figures" if scale == "smoke" else paths.FIGURES
    for notebook in notebooks:
        print(f"[{scale}] {notebook.name} ...", flush=True)
        try:
            seconds = run_notebook(notebook, {"scale": scale}, folder)
        except Exception as error:
            cell = getattr(error, "exec_count", None)
            where = f" in cell [{cell}]" if cell is not None else ""
            print(f"FAILED: {notebook.name}{where}: {type(error).__name__}: "
                  f"{getattr(error, 'evalue', error)}\n(executed copy: build/executed/{notebook.name}; "
                  f"figures of earlier runs are untouched)", file=sys.stderr)
            return 1
        record_timing(notebook, scale, seconds)
        print(f"  done in {seconds:.0f} s" + (f" (figures in {folder})" if folder != paths.FIGURES else ""), flush=True)
        if notebook.stem == CLAIMS_NOTEBOOK and folder == paths.FIGURES:
            changed = publish.update_readme(publish.published_table()) | timings.update()
            print("  README.md claims table and timings " + ("updated" if changed else "unchanged"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", help=f"one of {', '.join(SCALES)}")
    parser.add_argument("--only", nargs="*", help="notebook numbers or names, e.g. 00 02")
    parser.add_argument("--store-checked-outputs", action="store_true",
                        help=f"instead: refresh the stored outputs of cells tagged {CHECKED_TAG}")
    args = parser.parse_args(argv)
    check_choice("scale", args.scale, SCALES)
    if args.only is not None and not args.only:
        parser.error("--only needs at least one notebook number or name (leave it out to run them all)")
    if os.environ.pop(SCALE_ENV_VAR, None):
        print(f"note: ${SCALE_ENV_VAR} is ignored by make figures; the scale is {args.scale}")
    notebooks = numbered_notebooks(args.only)
    try:
        with one_run_at_a_time():
            if args.store_checked_outputs:
                for notebook in notebooks:
                    print(f"{notebook.name}: stored the outputs of {store_checked_outputs(notebook)} checked cell(s)")
                return 0
            return run_all(notebooks, args.scale)
    except filelock.Timeout:
        print(f"another `make figures` is running in this checkout (it holds {paths.shown(LOCK)}); "
              "wait for it to finish, then run this one again", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
