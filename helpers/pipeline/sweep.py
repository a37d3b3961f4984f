"""``make claims`` on Ray: a grid of papermill jobs (notebooks × seeds × datasets × scales), one Ray task each.

``python -m helpers.pipeline.sweep --seeds 1,2`` runs the claim notebooks (02, 04-07) at seeds 1 and 2 on a
Ray instance started on this machine; ``--address HOST:PORT`` (or ``$RAY_ADDRESS``) joins a running
cluster instead. Each task executes one notebook with papermill (:func:`helpers.pipeline.run.execute`)
in a temporary folder of its worker and returns the executed notebook and every CSV the notebook
wrote (claim rows and figure data); the driver writes them:

* ``<out>/<scale>/<dataset>/seed<S>/<notebook>/``: the executed notebook, the CSVs and ``done.json``;
* claim rows of seed >= 1 on the default dataset to ``figures/claims/NN_claims_seedS.csv`` (as
  ``make claims`` always did); on another dataset, every seed, to ``figures/claims/<dataset>/``
  (:func:`helpers.claims.seed_file`). Seed 0 on the default dataset is the published run of
  ``make figures``: the sweep never replaces it. Smoke runs write to ``build/smoke-figures``.
* ``--set NAME=VALUE`` changes a notebook parameter in every job (``make claims-budget`` reruns the
  claims with ``classifier_epochs=6``): such a *variant* keeps all its seeds, 0 included, apart,
  in ``figures/claims/<variant>/`` (e.g. ``classifier_epochs6``), and in its own ``<out>`` folders.

**Done.** ``done.json`` records a job's key: a hash of the notebook file, its parameters and the
code it ran (the contents of ``helpers/*.py``, so uncommitted edits count; the git revision is
recorded beside it). A job whose record has the current key and whose outputs all exist is not
submitted again, so a second sweep submits nothing; editing a notebook or a helper reruns its jobs.

**Workers** run the code of this checkout: its root is put first on ``PYTHONPATH`` (on a cluster,
every node needs the checkout at the same path, e.g. on a shared filesystem), and ``$MIA_CACHE_DIR``
and ``$DATA_DIR`` are passed on, so a shared cache folder is reused by every worker. A failed task
is retried (``--retries``) and named at the end. Run ``python -m helpers.pipeline.sweep --help``.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import math
import socket
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import claims
from ..core import paths
from ..core.config import SCALES, check_choice
from ..core.io import atomic_write_bytes, atomic_write_text
from ..data import DATASETS
from . import manifest
from . import run as pipeline

FORWARDED_ENV = ("MIA_CACHE_DIR", "DATA_DIR", "SOURCE_DATE_EPOCH", "MPLBACKEND", "PYTHONHASHSEED")
RECORD = "done.json"


@dataclass(frozen=True)
class Job:
    """One papermill run: a notebook (its stem) at one scale, seed and dataset."""

    notebook: str
    scale: str
    seed: int
    dataset: str = claims.DEFAULT_DATASET
    overrides: tuple = ()   # ((parameter, value), ...), sorted: a variant of the default run

    @property
    def path(self) -> Path:
        return paths.NOTEBOOKS / f"{self.notebook}.ipynb"

    @property
    def name(self) -> str:
        variant = f", {self.variant}" if self.overrides else ""
        return f"{self.notebook} [{self.scale}, seed {self.seed}, {self.dataset}{variant}]"

    @property
    def variant(self) -> str | None:
        """``classifier_epochs6`` for ``(("classifier_epochs", 6),)``; None for the default run."""
        return "-".join(f"{name}{value}" for name, value in self.overrides) or None

    def parameters(self) -> dict:
        return {**pipeline.seed_parameters(self.path, self.scale, self.seed, self.dataset), **dict(self.overrides)}

    def folder(self, out: Path) -> Path:
        dataset = "-".join([self.dataset] + ([self.variant] if self.overrides else []))
        return Path(out) / self.scale / dataset / f"seed{self.seed}" / self.notebook


def grid(notebooks: list[str], seeds: list[int], datasets: list[str], scales: list[str],
         overrides: dict | None = None) -> list[Job]:
    """Every combination, notebooks given by number or name (as ``make figures --only``), each with
    the parameter ``overrides``."""
    fixed = tuple(sorted((overrides or {}).items()))
    return [Job(nb.stem, scale, seed, dataset, fixed) for scale in scales for dataset in datasets
            for seed in seeds for nb in pipeline.numbered_notebooks(notebooks)]


RESERVED = ("scale", "seed", "dataset")   # set by --scales, --seeds and --datasets, one per job


def parse_setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with a Python literal value (``classifier_epochs=6``) -> (NAME, VALUE); a value
    that names no literal is kept as a string. Names and values must be safe in a folder name."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    if name in RESERVED:
        raise ValueError(f"--set {name}=... would file every job under one {name}: use --{name}s instead")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    if not isinstance(parsed, (bool, int, float, str)) or not str(parsed).replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"--set takes a number or a plain word as value, got {value!r}")
    return name, parsed


# ------------------------------------------------------------------ what "done" means

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_digest() -> str:
    """A hash of every ``helpers/*.py`` file's path and contents."""
    digest = hashlib.sha256()
    for source in sorted((paths.ROOT / "helpers").rglob("*.py")):
        digest.update(str(source.relative_to(paths.ROOT)).encode() + source.read_bytes())
    return digest.hexdigest()


def job_key(job: Job, code: str) -> str:
    """What a job's results depend on: the notebook file, its parameters and the helpers' code."""
    text = json.dumps({"notebook": _sha256(job.path.read_bytes()), "parameters": job.parameters(),
                       "code": code}, sort_keys=True)
    return _sha256(text.encode())[:16]


def is_done(job: Job, out: Path, code: str) -> bool:
    """True when the job's record has the current key and every output it lists exists."""
    record = job.folder(out) / RECORD
    if not record.exists():
        return False
    try:
        done = json.loads(record.read_text())
        outputs = done.get("outputs", [])
    except (ValueError, AttributeError):   # truncated or not a record: run the job again
        warnings.warn(f"{record} is not a valid record (truncated?): {job.name} runs again", stacklevel=2)
        return False
    return done.get("key") == job_key(job, code) and all(Path(p).exists() for p in outputs)


# ------------------------------------------------------------------ the task (runs on a worker)

def run_job(job: Job) -> dict:
    """Execute ``job`` in a temporary folder; return its executed notebook and every CSV it wrote."""
    pipeline.check_parameters(job.path, job.parameters())
    with tempfile.TemporaryDirectory(prefix="mia-sweep-") as tmp:
        staging, executed = Path(tmp) / "figures", Path(tmp) / f"{job.notebook}.ipynb"
        seconds = pipeline.execute(job.path, job.parameters(), executed, staging)
        files = {csv.name: csv.read_bytes() for csv in sorted(staging.glob("*.csv"))}
        return {"executed": executed.read_bytes(), "files": files, "seconds": seconds, "node": node_name()}


def node_name() -> str:
    """``host/RAY-NODE-ID`` inside a Ray task (two nodes may share a host), else the host name."""
    import ray

    host = socket.gethostname()
    return f"{host}/{ray.get_runtime_context().get_node_id()}" if ray.is_initialized() else host


# ------------------------------------------------------------------ the driver

def figures_folder(job: Job, figures: Path | None) -> Path:
    """Where a job's claim rows go: ``figures`` if given, else figures/ (build/smoke-figures at smoke)."""
    if figures is not None:
        return Path(figures)
    return paths.BUILD / "smoke-figures" if job.scale == "smoke" else paths.FIGURES


def write_result(job: Job, result: dict, out: Path, figures: Path | None, code: str) -> list[Path]:
    """Write a finished job's notebook, CSVs and claim rows, then its record (last: a crash before
    it leaves the job not done). Returns the paths written."""
    folder = job.folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = [atomic_write_bytes(folder / f"{job.notebook}.ipynb", result["executed"])]
    for name, data in result["files"].items():
        written.append(atomic_write_bytes(folder / name, data))
    rows = result["files"].get(f"{job.notebook[:2]}_claims.csv")
    published_run = job.seed == 0 and job.dataset == claims.DEFAULT_DATASET and not job.overrides
    if rows is not None and not published_run:
        written.append(pipeline.keep_claim_rows(rows, job.path, job.seed, figures_folder(job, figures), job.dataset,
                                                job.variant))
    record = {"key": job_key(job, code), "job": asdict(job), "parameters": job.parameters(),
              "revision": manifest.git_revision(), "seconds": round(result["seconds"], 1),
              "node": result["node"], "outputs": [str(p) for p in written]}
    atomic_write_text(folder / RECORD, json.dumps(record, indent=1, sort_keys=True))
    return written


@dataclass
class SweepReport:
    submitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)      # already done
    finished: list[str] = field(default_factory=list)
    failed: dict = field(default_factory=dict)            # job name -> error


def task_options(job: Job, cpus: float, cuda: bool, retries: int) -> dict:
    """Ray resources and retries of one task: a GPU for paper-scale jobs when CUDA is wanted."""
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(paths.ROOT), os.environ.get("PYTHONPATH")) if p)
    return {"num_cpus": cpus, "num_gpus": 1 if cuda and job.scale == "paper" else 0,
            "max_retries": retries, "retry_exceptions": True, "runtime_env": {"env_vars": env}}


def check_fits(cpus: float, cluster_cpus: float) -> None:
    """A task asking for more CPUs than the whole cluster has would wait forever: refuse it."""
    if cpus > cluster_cpus:
        raise ValueError(f"--cpus-per-task {cpus:g} exceeds the {cluster_cpus:g} CPUs of the Ray cluster: "
                         "no task could ever start")


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail within ``timeout`` seconds, naming ``address``, when nothing listens there (Ray itself
    retries for minutes); ``auto``, ``local`` and ``ray://`` client addresses are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or address in ("auto", "local") or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as error:
        raise ValueError(f"no Ray cluster answers at {address} ({error.strerror or error}); start one with "
                         "`ray start --head`, or leave --address out for a local instance") from None


def check_options(cpus: float, retries: int, datasets: list[str]) -> None:
    """Refuse, before anything is submitted, what would hang or fail in every task."""
    if not math.isfinite(cpus) or cpus <= 0:
        raise ValueError(f"--cpus-per-task must be a positive number, got {cpus:g}")
    if retries < 0:
        raise ValueError(f"--retries must be 0 or more, got {retries}")
    for dataset in datasets:
        check_choice("dataset", dataset, sorted(DATASETS))


def _error_text(error: Exception) -> str:
    """One line: the cause's type and message (a message of several lines, e.g. every bad
    parameter of a notebook, joined with '; ')."""
    cause = getattr(error, "cause", None) or error
    lines = [line.strip() for line in str(getattr(cause, "evalue", cause)).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {'; '.join(lines)}"


def sweep(jobs: list[Job], out: Path, figures: Path | None = None, cpus: float = 2, cuda: bool = False,
          retries: int = 1, progress: bool = True) -> SweepReport:
    """Run every job not done yet as a Ray task (connect with ``ray.init`` first, or a local
    instance is started) and write the results as they arrive."""
    import ray
    from tqdm.auto import tqdm

    code, report = code_digest(), SweepReport()
    pending = []
    for job in jobs:
        (report.skipped if is_done(job, out, code) else pending).append(job)
    report.skipped = [job.name for job in report.skipped]
    if not pending:
        return report
    ray.init(ignore_reinit_error=True)  # joins $RAY_ADDRESS when set
    check_fits(cpus, ray.cluster_resources().get("CPU", 0.0))
    remote = ray.remote(run_job)
    in_flight = {remote.options(**task_options(job, cpus, cuda, retries)).remote(job): job for job in pending}
    report.submitted = [job.name for job in pending]
    bar = tqdm(total=len(pending), desc="sweep", unit="job", disable=not progress)
    while in_flight:
        [ref], _ = ray.wait(list(in_flight), num_returns=1)
        job = in_flight.pop(ref)
        try:
            write_result(job, ray.get(ref), out, figures, code)
            report.finished.append(job.name)
        except Exception as error:  # the task failed after its retries: name it, go on
            report.failed[job.name] = _error_text(error)
            bar.write(f"FAILED: {job.name}: {report.failed[job.name]}")
        bar.set_postfix(done=len(report.finished), running=len(in_flight), failed=len(report.failed))
        bar.update()
    bar.close()
    return report


def _integers(text: str) -> list[int]:
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise SystemExit(f"expected integers separated by commas, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=pipeline.CLAIM_NOTEBOOKS, help="numbers or names")
    parser.add_argument("--seeds", default="1,2", help="e.g. 1,2 (seed 0 of mnist5k keeps no claim rows)")
    parser.add_argument("--datasets", default=claims.DEFAULT_DATASET, help="e.g. mnist5k,cifar10")
    parser.add_argument("--scales", "--scale", default="quick", help=f"some of {', '.join(SCALES)}")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                        help="a notebook parameter for every job, e.g. classifier_epochs=6 (a variant run: "
                        "all its seeds go to figures/claims/<variant>/)")
    parser.add_argument("--address", help="a running Ray cluster, e.g. 10.0.0.1:6379 (default: $RAY_ADDRESS, "
                        "else a local instance)")
    parser.add_argument("--cpus-per-task", type=float, default=2, help="Ray CPUs per task (default 2)")
    parser.add_argument("--cuda", action="store_true", help="one GPU per task at paper scale")
    parser.add_argument("--retries", type=int, default=1, help="retries of a failed task (default 1)")
    parser.add_argument("--out", type=Path, default=paths.BUILD / "sweep", help="executed notebooks and records")
    parser.add_argument("--figures", type=Path, help="where claim rows go (default figures/; "
                        "build/smoke-figures at smoke)")
    args = parser.parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    try:
        for scale in scales:
            check_choice("scale", scale, SCALES)
        check_options(args.cpus_per_task, args.retries, datasets)
        overrides = dict(parse_setting(text) for text in args.settings)
        jobs = grid(args.notebooks, _integers(args.seeds), datasets, scales, overrides)
        for job in jobs:   # every job's parameters, before any is submitted
            pipeline.check_parameters(job.path, job.parameters())
        address = args.address or os.environ.get("RAY_ADDRESS")
        if address:
            check_reachable(address)
            os.environ["RAY_ADDRESS"] = address
        report = sweep(jobs, args.out, args.figures, args.cpus_per_task, args.cuda, args.retries)
    except ValueError as error:
        print(f"sweep: {error}", file=sys.stderr)
        return 2
    print(f"{len(report.finished)} job(s) run, {len(report.skipped)} already done, {len(report.failed)} failed")
    for name, error in report.failed.items():
        print(f"FAILED: {name}: {error}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
