"""Progress of long loops: a bar for a person watching, a line per stage for a stored notebook.

In JupyterLab (or a terminal) :func:`progress` is tqdm's bar: a widget in a notebook, text on a
terminal, one per loop. In a notebook executed by the pipeline, nbval or a sweep (kernels started
through :func:`helpers.core.kernels.prepare_kernels`, which sets ``$MIA_PROGRESS=lines``), a bar
would be stored in the executed copy, and the book, as a dump of hundreds of updates; there a loop
prints at most one line when it ends (``train vgg on mnist5k: 4 epoch in 12 s``), and loops marked
``leave=False`` (the inner ones: epochs of one attack, batches of one reconstruction) print nothing.
"""
from __future__ import annotations

import os
import time

PROGRESS_ENV_VAR = "MIA_PROGRESS"   # "lines": one line per finished stage, no bars
LINES = "lines"


class StageLine:
    """An iterable that says, once it is exhausted, how many items it went through and how long it
    took; ``set_postfix`` (used with tqdm bars) is accepted and ignored."""

    def __init__(self, iterable, desc: str, total: int | None, leave: bool, unit: str):
        self.iterable, self.desc, self.leave, self.unit = iterable, desc, leave, unit
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError(f"{self.desc}: an iterable of unknown length")
        return self.total

    def __iter__(self):
        start, count = time.perf_counter(), 0
        for item in self.iterable:
            count += 1
            yield item
        if self.leave:
            print(f"{self.desc}: {count} {self.unit} in {time.perf_counter() - start:.0f} s", flush=True)

    def set_postfix(self, *args, **kwargs) -> None:
        return None


def progress(iterable, desc: str, total: int | None = None, leave: bool = True, unit: str = "it"):
    """``iterable`` with a progress bar (tqdm.auto), or with :class:`StageLine` when
    ``$MIA_PROGRESS`` is ``lines``."""
    if os.environ.get(PROGRESS_ENV_VAR) == LINES:
        return StageLine(iterable, desc, total, leave, unit)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=leave, unit=unit)
