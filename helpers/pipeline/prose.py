"""Numbers in notebook prose that must come from the committed figures' data.

A notebook's markdown writes a number in square brackets, ``[0.0433 → 0.0475]`` or ``[+86%]``, when
it quotes the committed run. :func:`unmatched_numbers` lists the bracketed numbers of a notebook
that no value of its CSVs (``figures/NN_*.csv`` and ``figures/claims/NN_*.csv``) explains within
the number's printed rounding, as the value itself or as a percentage of it (0.974 -> 97.4).
Skipped: LaTeX, inline code, link texts, and the exercises (teaching, not results).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import paths

MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
CODE = re.compile(r"`[^`]*`")
_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")
_BRACKET = re.compile(r"\[([^\[\]]*\d[^\[\]]*)\]")
NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?", re.I)


def bracketed_numbers(markdown: str) -> list[str]:
    """The numbers inside [...] of ``markdown``, as printed (sign and separators removed later)."""
    text = _LINK.sub("", CODE.sub("", MATH.sub("", markdown)))
    return [n for inner in _BRACKET.findall(text) for n in NUMBER.findall(inner)]


def value_and_tolerance(printed: str) -> tuple[float, float]:
    text = printed.replace(",", "").replace("−", "-").lstrip("+")
    mantissa = text.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
    return float(text), 0.5 * 10.0 ** (exponent - decimals) * (1 + 1e-9)


def explained(printed: str, values: np.ndarray) -> bool:
    """Does a value (or 100× a value) round to ``printed``, ignoring its sign?"""
    target, tolerance = value_and_tolerance(printed)
    candidates = np.abs(np.concatenate([values, 100 * values]))
    return bool((np.abs(candidates - abs(target)) <= tolerance).any())


def csv_values(number: str, folder: Path | None = None) -> np.ndarray:
    """Every finite number in notebook ``number``'s CSVs, including numbers written inside text cells."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    values = []
    for path in sorted(folder.glob(f"{number}_*.csv")) + sorted((folder / "claims").glob(f"{number}_*.csv")):
        frame = pd.read_csv(path)
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_numeric_dtype(series):
                values.extend(series.to_numpy(float))
            else:
                values.extend(float(n.replace(",", "").replace("−", "-"))
                              for text in series.dropna().astype(str) for n in NUMBER.findall(text))
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def notebook_markdown(path: Path) -> str:
    """The markdown of a notebook up to its exercises."""
    import nbformat

    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    return text.split("## Exercises")[0]


def unmatched_numbers(path: Path, folder: Path | None = None) -> list[str]:
    values = csv_values(path.name[:2], folder)
    return [n for n in bracketed_numbers(notebook_markdown(path)) if not explained(n, values)]
