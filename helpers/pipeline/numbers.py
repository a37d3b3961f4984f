"""Every number in a notebook's summary is tied to one named value.

A Markdown cell that quotes results carries, in its metadata, one binding per number it prints, in
the order they appear (``cell.metadata["companion"]["numbers"]``). A binding is a dict with the
printed text ``"n"`` and exactly one source:

- ``{"csv": "04_claims.csv", "col": "value", "row": {"id": "sift.edge", "seed": "0"}, "times": 100}``:
  the one row of a committed figure CSV that ``row`` selects (values compared as text), the column
  ``col``, optionally multiplied by ``times`` (a fraction printed as a percentage);
- ``{"claim": "sift.mse_gain", "reading": "", "stat": "mean" | "low" | "high"}``: the claim's mean or
  95% interval bound over the committed seeds (:func:`helpers.claims.judge`);
- ``{"py": "helpers.evaluation.grids.CEM_PLUGIN.lam"}``: a setting of the code (attribute and key
  lookups from an importable module; nothing is called);
- ``{"cited": KIND}`` with KIND in :data:`CITED`: a number that is not ours to compute (the
  paper's, a section or figure label, a count of the text's own items).

The check (:func:`problems`): the numbers printed in the cell are exactly the bindings' ``n``, in
order, so changing, adding or dropping one fails; a computed source must round to its printed
number within half a unit of its last printed digit (the sign is not compared: "lowers by 23.1"
may print −23.1). Every ``## Summary`` cell must have bindings.
"""
from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..core import paths
from .prose import CODE, MATH, NUMBER, value_and_tolerance

CITED = {"paper": "a number the paper reports", "label": "a section, table, figure, notebook or reference number",
         "count": "a count of the text's own items (three bases, two attacks)",
         "setting": "a setting the text names, not read by the code (e.g. the paper's budget)"}
SOURCES = ("csv", "claim", "py", "cited")
_LINK_URL = re.compile(r"\]\([^)]*\)")
SUMMARY = "## Summary"


def number_spans(markdown: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of every number of ``markdown`` outside LaTeX, inline code and link
    targets (a link's text counts: an arXiv number is printed)."""
    skipped = [m.span() for pattern in (MATH, CODE, _LINK_URL) for m in pattern.finditer(markdown)]
    return [(m.start(), m.end(), m.group()) for m in NUMBER.finditer(markdown)
            if not any(start < m.end() and m.start() < end for start, end in skipped)]


def printed_numbers(markdown: str) -> list[str]:
    """Every number of ``markdown`` as printed, in order (:func:`number_spans`)."""
    return [text for _, _, text in number_spans(markdown)]


@lru_cache(maxsize=64)
def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@lru_cache(maxsize=4)
def _claims(folder: Path) -> pd.DataFrame:
    from .. import claims

    return claims.judge(claims.collect_rows(folder))


def _from_csv(binding: dict, folder: Path) -> float:
    table = _csv(folder / binding["csv"])
    selected = table
    for column, value in binding.get("row", {}).items():
        selected = selected[selected[column] == str(value)]
    if len(selected) != 1:
        raise ValueError(f"{binding['csv']} {binding.get('row', {})} selects {len(selected)} rows, not one")
    return float(selected[binding["col"]].iloc[0]) * binding.get("times", 1)


def _from_claims(binding: dict, folder: Path) -> float:
    table = _claims(folder)
    row = table[(table.id == binding["claim"]) & (table.reading == binding.get("reading", ""))]
    if len(row) != 1:
        raise ValueError(f"claim {binding['claim']!r} reading {binding.get('reading', '')!r}: {len(row)} rows")
    return float(row[binding.get("stat", "mean")].iloc[0]) * binding.get("times", 1)


def _from_code(binding: dict) -> float:
    """``module.attr.attr`` or ``module.NAME.key``: attribute, then key, lookups."""
    parts = binding["py"].split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
            break
        except ImportError:
            continue
    else:
        raise ValueError(f"no importable module in {binding['py']!r}")
    for name in parts[split:]:
        value = value[name] if isinstance(value, dict) else getattr(value, name)
    return float(value) * binding.get("times", 1)


def value_of(binding: dict, folder: Path | None = None) -> float | None:
    """The computed value a binding names (None for a cited number)."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    kinds = [key for key in SOURCES if key in binding]
    if len(kinds) != 1:
        raise ValueError(f"binding {binding} needs exactly one source of {', '.join(SOURCES)}")
    if kinds[0] == "cited":
        if binding["cited"] not in CITED:
            raise ValueError(f"cited kind {binding['cited']!r} is not one of {', '.join(CITED)}")
        return None
    return {"csv": lambda: _from_csv(binding, folder), "claim": lambda: _from_claims(binding, folder),
            "py": lambda: _from_code(binding)}[kinds[0]]()


def matches(printed: str, value: float) -> bool:
    target, tolerance = value_and_tolerance(printed)
    return abs(abs(value) - abs(target)) <= tolerance


def problems(markdown: str, bindings: list[dict], folder: Path | None = None) -> list[str]:
    """What is wrong between a cell's printed numbers and its bindings (empty when nothing)."""
    printed = printed_numbers(markdown)
    bound = [binding.get("n") for binding in bindings]
    if printed != bound:
        first = next((i for i, (a, b) in enumerate(zip(printed, bound)) if a != b), min(len(printed), len(bound)))
        return [f"number {first + 1}: the text prints {printed[first:first + 3]} where the bindings say "
                f"{bound[first:first + 3]} ({len(printed)} printed, {len(bound)} bound)"]
    found = []
    for i, binding in enumerate(bindings):
        try:
            value = value_of(binding, folder)
        except (ValueError, KeyError, AttributeError, FileNotFoundError) as error:
            found.append(f"number {i + 1} ({binding['n']}): {error}")
            continue
        if value is not None and not matches(binding["n"], value):
            found.append(f"number {i + 1} ({binding['n']}): its source gives {value:.6g}")
    return found


def notebook_problems(path: Path, folder: Path | None = None) -> list[str]:
    """Every bound cell of a notebook checked; a summary without bindings is a problem."""
    import nbformat

    found = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        bindings = cell.metadata.get("companion", {}).get("numbers")
        if bindings is None:
            if cell.source.lstrip().startswith(SUMMARY):
                found.append(f"cell {index}: a summary whose numbers are not bound")
            continue
        found += [f"cell {index}: {problem}" for problem in problems(cell.source, bindings, folder)]
    return found


def _row_key(table: pd.DataFrame, index: int) -> dict:
    """The fewest text columns that single out row ``index`` of ``table``."""
    numeric = {c for c in table.columns if pd.to_numeric(table[c], errors="coerce").notna().all()}
    key = {}
    for column in [c for c in table.columns if c not in numeric] + [c for c in table.columns if c in numeric]:
        key[column] = table[column].iloc[index]
        selected = table
        for name, value in key.items():
            selected = selected[selected[name] == value]
        if len(selected) == 1:
            return key
    return key


def candidates(printed: str, number: str, folder: Path | None = None) -> list[dict]:
    """Bindings to notebook ``number``'s CSVs whose value rounds to ``printed`` (for drafting)."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    found = []
    for path in sorted(folder.glob(f"{number}_*.csv")):
        table = _csv(path)
        for column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            for times in (1, 100):
                for index in values.index[values.notna()]:
                    if matches(printed, values[index] * times):
                        binding = {"n": printed, "csv": path.name, "col": column, "row": _row_key(table, index)}
                        found.append({**binding, "times": times} if times != 1 else binding)
    return found


def draft(path: Path, folder: Path | None = None) -> dict:
    """For each summary cell without bindings: one binding per number, the CSV value when exactly
    one matches, else ``{"n": ..., "todo": [candidates]}`` (which the check refuses)."""
    import nbformat

    path, out = Path(path), {}
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith(SUMMARY):
            drafted = []
            for printed in printed_numbers(cell.source):
                found = candidates(printed, path.name[:2], folder)
                drafted.append(found[0] if len(found) == 1 else {"n": printed, "todo": found[:5]})
            out[index] = drafted
    return out
