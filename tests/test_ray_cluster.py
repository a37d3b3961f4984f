"""A real two-node Ray cluster on this machine, started with Ray's own command.

``ray start --head`` and ``ray start --address`` give two nodes of one CPU each; the sweep joins them
through ``--address`` and runs notebook 00 at smoke for four seeds. Once the second node has finished
one job and is executing the next, the test kills that node (its raylet and everything under it):
the job it was running must be retried on the head, and the sweep must end with every job done.
Four seeds, not three: with two jobs left after the first round, whichever node frees first takes
one and the other node the other, so the second node always gets a second job (with three, the
head could take the last one and leave nothing to kill mid-job).
Only the processes of this cluster are stopped afterwards (found by its GCS port), never another
Ray on the machine.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from helpers.pipeline import sweep  # noqa: E402

# pytest-xdist (make test): one Ray at a time: never beside the local Ray of test_sweep
pytestmark = pytest.mark.xdist_group("ray")

RAY = str(Path(sys.executable).with_name("ray"))
SECOND = "second_node"            # a custom resource that marks the node the test kills
SEEDS = (0, 1, 2, 3)          # the second node finishes one, is killed in its next; the head retries it
# Dead-node detection in about 5 s instead of Ray's default 15 s (RAY_<setting> overrides Ray's
# config; not faster: under make test another pytest worker shares the 2 cores, and a raylet slow to
# answer must not be declared dead); no token authentication between processes of one machine
# (Ray >= 2.5x turns it on).
CLUSTER_ENV = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "10",
               "RAY_health_check_initial_delay_ms": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_processes(port: int) -> list:
    """Every process of the cluster whose GCS listens on ``port`` (its command line names the port)."""
    mine = re.compile(rf"--gcs[-_]address=\S+:{port}\b|--gcs_server_port={port}\b")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if mine.search(" ".join(process.info["cmdline"] or [])):
            found.append(process)
    return found


def _kill_tree(process) -> None:
    for child in process.children(recursive=True) + [process]:
        try:
            child.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def _second_raylet(port: int):
    """(the second node's raylet, its Ray node id), or None before it is up."""
    for process in _cluster_processes(port):
        line = " ".join(process.cmdline())
        if "raylet" in process.name() and f"{SECOND}," in line:
            return process, re.search(r"--node_id=(\w+)", line).group(1)
    return None


@pytest.fixture
def two_nodes(monkeypatch, tmp_path):
    port = _free_port()
    env = {**os.environ, **CLUSTER_ENV}
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    # its own temporary folder (short: it holds sockets), so that the address file `ray start` leaves
    # is not found by a later `ray.init()` that means to start a local instance
    temp = tempfile.mkdtemp(prefix="ray2n-", dir="/tmp")
    try:
        subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}",
                        *common],
                       env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([RAY, "start", f"--address=127.0.0.1:{port}", f'--resources={{"{SECOND}": 1}}', *common],
                       env=env, check=True, capture_output=True, timeout=120)
        monkeypatch.setenv("MIA_CACHE_DIR", str(tmp_path / "cache"))   # the jobs compute, not read a cache
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")   # restored afterwards (sweep.main sets it too)
        yield port
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for process in _cluster_processes(port):
            _kill_tree(process)
        shutil.rmtree(temp, ignore_errors=True)


def _records(out: Path) -> list[dict]:
    found = []
    for path in out.rglob(sweep.RECORD):
        try:
            found.append(json.loads(path.read_text()))
        except json.JSONDecodeError:   # being written
            continue
    return found


def _kill_second_node_mid_job(port: int, out: Path, killed: dict, deadline: float) -> None:
    """Wait until the second node has finished a job and runs a notebook kernel (the next job),
    then kill it; ``killed`` gets the node's id and the records finished before the kill."""
    while time.monotonic() < deadline:
        second = _second_raylet(port)
        if second is not None:
            raylet, node = second
            done = _records(out)
            try:
                busy = any("ipykernel" in " ".join(p.cmdline()) for p in raylet.children(recursive=True))
            except psutil.NoSuchProcess:   # a worker ended while we looked
                busy = False
            if busy and any(r["node"].endswith(node) for r in done):
                killed.update(node=node, before={r["job"]["seed"] for r in done})
                _kill_tree(raylet)
                return
        time.sleep(0.2)


def test_a_sweep_on_two_nodes_survives_losing_one(two_nodes, tmp_path):
    port, out = two_nodes, tmp_path / "sweep"
    killed: dict = {}
    watcher = threading.Thread(target=_kill_second_node_mid_job,
                               args=(port, out, killed, time.monotonic() + 600), daemon=True)
    watcher.start()
    status = sweep.main(["--address", f"127.0.0.1:{port}", "--notebooks", "00", "--seeds", ",".join(map(str, SEEDS)),
                         "--scales", "smoke", "--cpus-per-task", "1", "--retries", "2", "--out", str(out),
                         "--figures", str(tmp_path / "figures")])
    watcher.join(timeout=5)
    assert status == 0, "every job finished, the lost one included"
    assert killed, "the second node never finished a job and started another"
    records = _records(out)
    assert sorted(r["job"]["seed"] for r in records) == list(SEEDS)
    nodes = {r["node"].split("/")[-1] for r in records}
    [head] = [n["NodeID"] for n in ray.nodes() if n["NodeID"] != killed["node"]]
    assert nodes == {killed["node"], head}, "jobs ran on both nodes"
    after = [r for r in records if r["job"]["seed"] not in killed["before"]]
    assert after and all(r["node"].endswith(head) for r in after), \
        "what was left, the killed node's running job among it, finished on the head"
    assert not [n for n in ray.nodes() if n["NodeID"] == killed["node"] and n["Alive"]], "the second node is dead"
