"""What a reader of an executed notebook sees: warnings without the machine's paths.

Python prints a warning as ``/abs/path/to/module.py:123: UserWarning: message`` followed by the
source line; in an executed notebook (and the book built from it) that is the path of the machine
that ran it. :func:`short_warnings` prints ``UserWarning: message`` instead; the warning itself,
its category and its filters are unchanged.
"""
from __future__ import annotations

import warnings


def short_format(message, category, filename, lineno, line=None) -> str:
    """``Category: message``: what :func:`warnings.formatwarning` prints, less the location."""
    return f"{category.__name__}: {message}\n"


def short_warnings() -> None:
    """Print every later warning of this process as :func:`short_format` does."""
    warnings.formatwarning = short_format
