"""The grading sandbox: Debian's bubblewrap (``bwrap``) around :mod:`.worker` and a student's code.

Inside: no network (its own, empty, network namespace), its own process tree (a new PID namespace
and session, ended with the grader: ``--die-with-parent``), an environment reduced to an
allow-list, a private ``/tmp`` of :data:`TMP_BYTES` (the only place it can write), and a read-only view of only what running a
solution needs: the system's libraries, the Python interpreter and its installed packages, and the
worker file. The repository (solutions, hidden tests, ``helpers``), other hand-ins and the
instructor's home are not there. Resource limits (:func:`limits`): CPU seconds, address space,
the size of any file written (the results included), and processes, which binds only when the
grader does not run as root (Linux exempts root from it; the PID namespace still ends every
process with the sandbox).
"""
from __future__ import annotations

import math
import os
import resource
import shutil
import sys
from pathlib import Path

WORKER = Path(__file__).with_name("worker.py")
INSIDE_WORKER = "/grader/worker.py"
TMP_BYTES = 256 * 2 ** 20
ADDRESS_SPACE_BYTES = 8 * 2 ** 30   # torch maps a few GiB of address space when it loads
OUTPUT_BYTES = 16 * 2 ** 20         # any one file written, the results on stdout included
MAX_PROCESSES = 64
ENVIRONMENT = {"HOME": "/tmp", "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "MPLBACKEND": "agg", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
INSTALL_HINT = "install Debian's bubblewrap (`apt-get install bubblewrap`; .ci/run does)"


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot make a sandbox on this machine."""


def bwrap() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(f"the grader runs hand-ins only inside a sandbox: {INSTALL_HINT}, "
                                 "or pass --no-sandbox to run them unsafely with your permissions")
    return found


def _system_mounts() -> list[str]:
    """/usr read-only, and /bin, /lib, ... as the symlinks or folders they are on this machine."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args + ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                   "--ro-bind-try", "/etc/localtime", "/etc/localtime"]


def _python_mounts() -> list[str]:
    """The interpreter's installation and the environment's packages, read-only at their paths."""
    folders = sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
                      Path(sys.executable).resolve().parent.parent})
    args = []
    for folder in folders:
        if not str(folder).startswith("/usr"):
            args += ["--ro-bind", str(folder), str(folder)]
    if Path(sys.prefix) != Path(sys.prefix).resolve():
        args += ["--symlink", str(Path(sys.prefix).resolve()), str(sys.prefix)]
    return args


def command() -> list[str]:
    """The bwrap command line that runs the worker (its tasks on stdin, its values on stdout)."""
    environment = [arg for name, value in ENVIRONMENT.items() for arg in ("--setenv", name, value)]
    # the private /tmp first: an environment or checkout that lives under /tmp is bound on top of it
    return [bwrap(), "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", *environment,
            "--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
            *_system_mounts(), *_python_mounts(), "--ro-bind", str(WORKER), INSIDE_WORKER, "--remount-ro", "/",
            "--chdir", "/tmp", "--", sys.executable, "-I", INSIDE_WORKER]


def unsafe_command() -> list[str]:
    """Without a sandbox (``--no-sandbox``): the same worker, with the grader's permissions."""
    return [sys.executable, "-I", str(WORKER)]


def limits(timeout: float):
    """A ``preexec_fn`` setting the resource limits of the sandbox's processes."""
    def apply() -> None:
        cpu = math.ceil(timeout) + 1
        for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, ADDRESS_SPACE_BYTES),
                             (resource.RLIMIT_FSIZE, OUTPUT_BYTES), (resource.RLIMIT_NPROC, MAX_PROCESSES),
                             (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(limit, (value, value))
    return apply


def check_timeout(value) -> float:
    """A positive, finite number of seconds, or a ValueError naming what was given."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"--timeout must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"--timeout must be a positive, finite number of seconds, got {value!r}")
    return seconds
