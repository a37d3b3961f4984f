"""The one atomic write of the project: cache entries, figures, the figure registry, claim rows,
student copies and sweep records all go through :func:`atomic_write`, so an interrupted run leaves
either the old file or the new one, never a part of either."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

_UMASK = os.umask(0)
os.umask(_UMASK)

TMP_SUFFIX = ".tmp"   # temporary files are ``.<name>.<random>.tmp`` beside their target


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write through ``write(handle)`` into a temporary file in ``path``'s folder (created if
    needed), flush it to disk, then rename it over ``path``; returns ``path``. Text is UTF-8,
    whatever the locale."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; give them the usual mode
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text), mode="w")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data))


def replace_marked_block(path: Path, start: str, end: str, block: str) -> bool:
    """Replace ``start`` ... ``end`` (markers included) in the text file ``path`` by ``block``,
    atomically; True when the file changed. A file without the markers is a ValueError."""
    path = Path(path)
    text = path.read_text()
    first, last = text.find(start), text.find(end)
    if first < 0 or last < first:
        raise ValueError(f"{path.name} has no {start} ... {end} block")
    updated = text[:first] + block + text[last + len(end):]
    if updated != text:
        atomic_write_text(path, updated)
    return updated != text
