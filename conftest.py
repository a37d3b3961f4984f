"""Shared set-up of the test suite (at the root, so that its hooks also see the notebooks nbval collects).

`make test` executes each notebook once: nbval runs it, and this file keeps what nbval's kernel
returned as an executed copy in :data:`EXECUTED`. The book (tests/test_book.py) and the checks that
read executed notebooks reuse those copies (:func:`smoke_run`), and the student copies run against
the cache the notebooks filled. Run alone, those tests execute what they need themselves.

`make test` runs two pytest sessions, each on two pytest-xdist workers: the notebooks (a notebook's
cells in order in one kernel, heaviest notebooks first), then tests/. Both get the same
``$MIA_TEST_RUN``; beside each executed copy the first writes a record of that id (and of the thread
count its kernel ran with), and the second reuses a copy only when the ids agree, so copies left by
an earlier run are never taken for this one's. In a single session (``pytest tests notebooks``)
the notebooks' cells run first.
"""
import json
import os
from pathlib import Path

import nbformat
import pytest

from helpers.core import paths
from helpers.core.io import atomic_write_text
from helpers.core.kernels import prepare_kernels

EXECUTED = paths.BUILD / "test-executed"   # nbval's executed copies of this session
RUN_ENV_VAR = "MIA_TEST_RUN"
THREADS_ENV_VAR = "OMP_NUM_THREADS"
RECORD_SUFFIX = ".run.json"                # beside NN.ipynb: {"run": $MIA_TEST_RUN, "threads": its kernel's}
# Notebook files go to the workers in this order: the longest first, so none is left running alone
# at the end (at smoke from an empty cache: 07 about 4 minutes, 04 2, 03 1, the others less).
HEAVIEST_FIRST = ("07", "04", "03")
NOTEBOOK_CACHE = {}                        # the cache and figure folders the notebooks ran with (set at configure)
_nbval_done: set[str] = set()              # notebooks whose every cell nbval ran in this session


def pytest_configure(config):
    """Kernels started by nbval and the notebook tests read our quiet profile and import this
    checkout's helpers (helpers.core.kernels); a pytest-xdist worker takes its share of the cores."""
    prepare_kernels()
    _share_the_cores()
    NOTEBOOK_CACHE["path"] = str(paths.cache_dir())
    NOTEBOOK_CACHE["figures"] = str(paths.figures_dir())


def _share_the_cores() -> None:
    """Under pytest-xdist, torch in each worker and in the kernels it starts gets cores // workers
    threads: two workers each spinning two OpenMP threads on two cores ran 2-4x slower than one."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        share = max(1, (os.cpu_count() or 1) // workers)
        os.environ[THREADS_ENV_VAR] = str(share)
        torch.set_num_threads(share)


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _notebook_rank(item) -> tuple:
    name = Path(str(item.fspath)).name
    heavy = [i for i, prefix in enumerate(HEAVIEST_FIRST) if name.startswith(prefix)]
    return (heavy[0] if heavy else len(HEAVIEST_FIRST), name)


def pytest_collection_modifyitems(session, config, items):
    """The notebooks' cells first (heaviest notebooks first, each one's cells in order), so every
    later test can reuse their executed copies."""
    cells = sorted((item for item in items if _is_nbval_cell(item)), key=_notebook_rank)  # stable: cell order kept
    items[:] = cells + [item for item in items if not _is_nbval_cell(item)]
    if cells:
        for stale in [*EXECUTED.glob("*.ipynb"), *EXECUTED.glob("*" + RECORD_SUFFIX)]:
            stale.unlink(missing_ok=True)
        figures = Path(NOTEBOOK_CACHE["figures"])
        if figures.is_relative_to(paths.BUILD):  # the figures' registry of this run only (make test's folder)
            for stale in figures.glob("*.meta.json"):
                stale.unlink(missing_ok=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    if call.when == "call" and _is_nbval_cell(item):
        cell = item.cell
        cell.outputs = list(getattr(item, "test_outputs", None) or [])
        cell.execution_count = item.cell_num + 1


def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell: write its executed copy."""
    if _is_nbval_cell(item) and (nextitem is None or nextitem.parent is not item.parent):
        EXECUTED.mkdir(parents=True, exist_ok=True)
        name = Path(str(item.parent.fspath)).name
        atomic_write_text(EXECUTED / name, nbformat.writes(item.parent.nb))
        _nbval_done.add(name)
        if os.environ.get(RUN_ENV_VAR):
            record = {"run": os.environ[RUN_ENV_VAR], "threads": os.environ.get(THREADS_ENV_VAR)}
            atomic_write_text(EXECUTED / (name + RECORD_SUFFIX), json.dumps(record))


def _records_of_this_run() -> dict[str, dict]:
    """{notebook: its record} for the notebooks an earlier session of this ``make test`` (the same
    ``$MIA_TEST_RUN``) executed."""
    run, found = os.environ.get(RUN_ENV_VAR), {}
    for path in EXECUTED.glob("*" + RECORD_SUFFIX) if run else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("run") == run:
            found[path.name[:-len(RECORD_SUFFIX)]] = record
    return found


@pytest.fixture(scope="session")
def nbval_executed():
    """A function of notebook names: :data:`EXECUTED` when nbval ran every one of them in this
    session or in this ``make test``'s notebook session (their executed copies are there), else None."""
    return lambda names: EXECUTED if set(names) <= _nbval_done | set(_records_of_this_run()) else None


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, nbval_executed) -> tuple[Path, Path]:
    """Every numbered notebook executed at smoke scale, and the folder of the figures that run saved
    (with its registry entries): nbval's executed copies when `make test` ran the notebooks, else
    papermill runs them here. One that fails still leaves its executed copy (nbval reports it)."""
    import shutil
    import warnings

    from papermill.exceptions import PapermillExecutionError

    from helpers.pipeline.run import execute, numbered_notebooks

    notebooks = numbered_notebooks()
    reused = nbval_executed([nb.name for nb in notebooks])
    if reused is not None:
        return reused, Path(NOTEBOOK_CACHE["figures"])
    folder, figures = tmp_path_factory.mktemp("executed"), tmp_path_factory.mktemp("figures")
    failed = []
    for nb in notebooks:
        staging = folder.parent / "staging" / nb.stem
        try:
            execute(nb, {"scale": "smoke"}, folder / nb.name, staging)
        except PapermillExecutionError as error:
            failed.append(f"{nb.name} [{error.exec_count}]: {error.ename}")
        shutil.copytree(staging, figures, dirs_exist_ok=True)
    if failed:
        warnings.warn(f"notebooks that failed: {'; '.join(failed)}")
    return folder, figures


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """Each test gets its own cache and figure folders, and no scale override."""
    monkeypatch.setenv("MIA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIA_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.delenv("MIA_SCALE", raising=False)
    yield


@pytest.fixture
def notebook_cache(monkeypatch) -> str:
    """The cache folder the notebooks ran with: a test that runs a notebook's cells again reuses it
    (its kernels get the notebooks' thread count too, which the cache keys hold)."""
    monkeypatch.setenv("MIA_CACHE_DIR", NOTEBOOK_CACHE["path"])
    threads = {record["threads"] for record in _records_of_this_run().values()}
    if len(threads) == 1:   # the notebooks ran in this make test's first session: their kernels' count
        [count] = threads
        if count is None:
            monkeypatch.delenv(THREADS_ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(THREADS_ENV_VAR, count)
    return NOTEBOOK_CACHE["path"]


@pytest.fixture
def users_module(tmp_path, monkeypatch):
    """``users_module(name, source)``: a module the way a user writes one, a file on Python's path
    imported by its name (forgotten again afterwards, so the next test imports its own)."""
    import sys
    import textwrap

    written = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)
