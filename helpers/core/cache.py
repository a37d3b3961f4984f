"""Train-or-load cache for expensive results, keyed by a hash of their full config.

Layout: ``<cache_dir>/<kind>/<hash>.pt`` (the payload, saved with ``torch.save``) and
``<hash>.json`` beside it (the config and the payload's SHA-256). Both are written to a temporary
file and renamed into place, the JSON last, so an interrupted run leaves either a complete entry or
none. On load the checksum and the config are verified; a corrupt entry is recomputed with a warning.
Payloads are loaded with ``weights_only=True``: tensors, numbers, strings, lists and dicts only.
The sidecar also records what the entry cost: the seconds its computation took and the notebook
that asked for it (``$MIA_NOTEBOOK``, set by the pipeline); :func:`cost_table` sums them.

Each entry has a lock file beside it (``<hash>.lock``): two processes that need the same missing
entry compute it once (:func:`cached`). An entry path that resolves outside the cache folder (a
symbolic link leading out) is refused.
Temporary files of interrupted writes older than an hour are removed the first time a process uses
the cache folder. Corrupt-entry warnings also go to ``<cache_dir>/warnings.log``, which the pipeline
prints after each notebook (a warning inside a kernel would otherwise stay in the executed copy).

Every key includes what changes results bitwise besides the config (:func:`environment_fields`,
added by :func:`entry_paths`, :func:`save` and :func:`load`): torch's intra-op thread count (1 and
2 threads sum in a different order and train different weights) and the device type. A run with
other threads or on another device therefore computes its own entries instead of loading another's.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import filelock
import torch

from . import paths
from .io import TMP_SUFFIX, atomic_write

# Bump when a change to the helpers makes earlier cached results wrong.
CACHE_VERSION = 2


def config_hash(config: dict) -> str:
    """A stable 16-hex-digit hash of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps({"cache_version": CACHE_VERSION, **config}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tensor_digest(*tensors: torch.Tensor) -> str:
    """16 hex digits identifying the values, shapes and dtypes of ``tensors`` (for cache keys of
    results computed from data)."""
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def environment_fields(device: str | torch.device = "cpu") -> dict:
    """What changes a result bitwise besides its config: torch's thread count and the device type."""
    return {"torch_threads": torch.get_num_threads(), "device": torch.device(device).type}


def keyed(config: dict, device: str | torch.device = "cpu") -> dict:
    """``config`` with :func:`environment_fields` added: what an entry is stored and found under."""
    return {**config, "environment": environment_fields(device)}


def entry_paths(kind: str, config: dict, device: str | torch.device = "cpu") -> tuple[Path, Path]:
    key = config_hash(keyed(config, device))
    folder = paths.cache_dir() / kind
    return _inside_cache(folder / f"{key}.pt"), _inside_cache(folder / f"{key}.json")


def _inside_cache(path: Path) -> Path:
    """``path`` if it resolves inside the cache folder: a link out of it must not be read or written."""
    root, resolved = paths.cache_dir().resolve(), path.resolve()
    if not resolved.is_relative_to(root):
        raise ValueError(f"cache entry {path} resolves to {resolved}, outside the cache folder {root}: "
                         "a symbolic link leads out of the cache; remove it and the entry is recomputed")
    return path


STALE_TMP_SECONDS = 3600  # no write takes this long: an older temporary file is left by a killed run
_swept: set[Path] = set()  # cache folders already cleaned by this process


def remove_stale_tmp(max_age: float = STALE_TMP_SECONDS) -> list[Path]:
    """Remove the temporary files (``<kind>/.*.tmp``) of interrupted writes older than ``max_age`` s."""
    cutoff, removed = time.time() - max_age, []
    for tmp in paths.cache_dir().glob(f"*/.*{TMP_SUFFIX}"):
        try:
            if tmp.lstat().st_mtime < cutoff:
                tmp.unlink()   # a link is removed, never followed
                removed.append(tmp)
        except OSError:  # renamed into place or removed by another process meanwhile
            pass
    return removed


def _sweep_once() -> None:
    root = paths.cache_dir()
    if root not in _swept:
        _swept.add(root)
        remove_stale_tmp()


WARNING_LOG_NAME = "warnings.log"


def warning_log() -> Path:
    return paths.cache_dir() / WARNING_LOG_NAME


def _warn_corrupt(message: str) -> None:
    """Warn (seen in the notebook) and append to the log (printed by the pipeline's console)."""
    warnings.warn(message, stacklevel=3)
    try:
        warning_log().parent.mkdir(parents=True, exist_ok=True)
        with warning_log().open("a") as handle:
            handle.write(f"{os.environ.get(NOTEBOOK_ENV_VAR) or '?'}: {message}\n")
    except OSError:  # an unwritable log must not stop the run; the warning was still issued
        pass


def warning_log_size() -> int:
    """The log's current length: pass it to :func:`warnings_since` after a run."""
    log = warning_log()
    return log.stat().st_size if log.is_file() else 0


def warnings_since(offset: int) -> list[str]:
    """Lines added to the warning log after it was ``offset`` bytes long."""
    log = warning_log()
    if not log.is_file():
        return []
    with log.open() as handle:
        handle.seek(offset)
        return handle.read().splitlines()


NOTEBOOK_ENV_VAR = "MIA_NOTEBOOK"
LOCK_SUFFIX = ".lock"   # beside an entry's sidecar: <kind>/<key>.lock


def save(kind: str, config: dict, payload: dict, seconds: float | None = None,
         device: str | torch.device = "cpu") -> Path:
    """Store ``payload`` under ``config`` computed on ``device`` with this thread count
    (``seconds``: what computing it took); returns its path."""
    data_path, meta_path = entry_paths(kind, config, device)
    config = keyed(config, device)
    _sweep_once()
    atomic_write(data_path, lambda handle: torch.save(payload, handle))
    meta = {"kind": kind, "config": config, "sha256": _sha256(data_path),
            "cache_version": CACHE_VERSION, "compute_seconds": seconds,
            "notebook": os.environ.get(NOTEBOOK_ENV_VAR)}
    text = json.dumps(meta, sort_keys=True, indent=1, default=str)
    atomic_write(meta_path, lambda handle: handle.write(text), mode="w")
    return data_path


def load(kind: str, config: dict, device: str | torch.device = "cpu") -> dict | None:
    """Return the stored payload, or None when absent; a corrupt entry warns and returns None."""
    data_path, meta_path = entry_paths(kind, config, device)
    config = keyed(config, device)
    _sweep_once()
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        expected = json.loads(json.dumps(config, sort_keys=True, default=str))
        if meta.get("config") != expected:
            raise ValueError("config in the sidecar differs from the requested config")
        if not data_path.exists() or _sha256(data_path) != meta.get("sha256"):
            raise ValueError("checksum mismatch")
        return torch.load(data_path, map_location="cpu", weights_only=True)
    except Exception as error:  # any failure to verify means: recompute
        _warn_corrupt(f"cache entry {data_path.name} ({kind}) is corrupt ({error}); recomputing")
        return None


def entry_lock(kind: str, config: dict, device: str | torch.device = "cpu") -> filelock.FileLock:
    """The lock of one entry: held while it is looked up and, when missing, computed and stored."""
    _, meta_path = entry_paths(kind, config, device)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(meta_path.with_suffix(LOCK_SUFFIX))


def cached(kind: str, config: dict, compute: Callable[[], dict], overwrite: bool = False,
           device: str | torch.device = "cpu") -> dict:
    """Load the result for ``config`` computed with this thread count on ``device`` (its type is
    part of the key), or compute, store and return it. Two processes that need the same missing
    entry (two notebooks, two sweep jobs) compute it once: the second waits on the entry's lock
    and then reads it. Entries computed inside ``compute`` take their own locks; entries form no
    cycle (none is computed from itself), so the waits cannot deadlock."""
    with entry_lock(kind, config, device):
        if not overwrite:
            payload = load(kind, config, device)
            if payload is not None:
                return payload
        start = time.perf_counter()
        payload = compute()
        save(kind, config, payload, seconds=time.perf_counter() - start, device=device)
        return payload


def load_within(kind: str, wider: dict, extra: tuple[str, ...], device: str | torch.device = "cpu") -> dict | None:
    """The payload of the entry ``wider`` without the fields ``extra``, or None when it is absent.

    For a computation that is another one plus some output: the same training that also kept its
    per-epoch weights, the same attack that also reconstructed validation images. Reading the
    wider entry gives this one's payload bit for bit, where computing it again would cost the
    computation; the caller says which fields are the extra output."""
    found = load(kind, wider, device)
    return None if found is None else {field: value for field, value in found.items() if field not in extra}


def cost_table(folder: Path | None = None):
    """Seconds of computation stored in the cache, summed per (notebook, kind) with entry counts.

    Times are inclusive: an entry computed inside another one's computation counts in both."""
    import pandas as pd

    rows = []
    for meta_path in sorted((folder or paths.cache_dir()).glob("*/*.json")):
        meta = json.loads(meta_path.read_text())
        rows.append({"notebook": meta.get("notebook") or "?", "kind": meta.get("kind"),
                     "seconds": meta.get("compute_seconds") or 0.0})
    frame = pd.DataFrame(rows, columns=["notebook", "kind", "seconds"])
    return (frame.groupby(["notebook", "kind"]).seconds.agg(["count", "sum"])
            .rename(columns={"sum": "seconds"}).reset_index())
