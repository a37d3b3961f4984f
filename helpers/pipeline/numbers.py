"""Every number in a notebook's summary is tied to one named value.

A Markdown cell that quotes results carries, in its metadata, one binding per number it prints, in
the order they appear (``cell.metadata["companion"]["numbers"]``). A binding is a dict with the
printed text ``"n"`` and exactly one source:

- ``{"csv": "04_claims.csv", "col": "value", "row": {"id": "sift.edge", "seed": "0"}, "times": 100}``:
  the one row of a committed figure CSV that ``row`` selects (values compared as text), the column
  ``col``, optionally multiplied by ``times`` (a fraction printed as a percentage);
- ``{"claim": "sift.mse_gain", "reading": "", "stat": "mean" | "low" | "high"}``: the claim's mean or
  95% interval bound over the committed seeds (:func:`helpers.claims.judge`); ``"variant"``
  (``"attackerstrong"``) and ``"dataset"`` name another run's rows (:func:`helpers.claims.collect_rows`);
- ``{"count": "08_claims_table.csv", "row": {"verdict": "reproduced"}}``: how many rows ``row`` selects;
- ``{"ratio" | "difference" | "change" | "min" | "max" | "mean": [source, source, ...]}``: a value
  derived from other sources (bindings without ``"n"``): a/b, a − b, a/b − 1, or over all;
- ``{"py": "helpers.evaluation.grids.CEM_PLUGIN.lam"}``: a setting of the code (attribute, key and
  list-index lookups from an importable module, e.g. ``grids.DEFENSE_GRID.noise.1.sigma``; nothing
  is called);
- ``{"cited": KIND}`` with KIND in :data:`CITED`: a number that is not ours to compute (the
  paper's, a section or figure label, a count of the text's own items).

The check (:func:`problems`): the numbers printed in the cell are exactly the bindings' ``n``, in
order, so changing, adding or dropping one fails; a computed source must round to its printed
number within half a unit of its last printed digit (the sign is not compared: "lowers by 23.1"
may print −23.1). The cells that must have bindings (:func:`needs_bindings`): every ``## Summary``
and every reading of a result, i.e. a Markdown cell right after a code cell that does not open a
new section (``**What the figure shows.** …``).
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
DERIVED = {"ratio": lambda v: v[0] / v[1], "difference": lambda v: v[0] - v[1], "change": lambda v: v[0] / v[1] - 1,
           "min": min, "max": max, "mean": lambda v: sum(v) / len(v)}
SOURCES = ("csv", "claim", "count", "py", "cited", *DERIVED)
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


@lru_cache(maxsize=8)
def _claims(folder: Path, dataset: str | None = None, variant: str | None = None) -> pd.DataFrame:
    from .. import claims

    return claims.judge(claims.collect_rows(folder, dataset=dataset, variant=variant))


def _selected(name: str, row: dict, folder: Path) -> pd.DataFrame:
    selected = _csv(folder / name)
    for column, value in row.items():
        if column not in selected.columns:
            raise KeyError(f"{name} has no column {column!r}")
        selected = selected[selected[column] == str(value)]
    return selected


def _from_csv(binding: dict, folder: Path) -> float:
    selected = _selected(binding["csv"], binding.get("row", {}), folder)
    if len(selected) != 1:
        raise ValueError(f"{binding['csv']} {binding.get('row', {})} selects {len(selected)} rows, not one")
    return float(selected[binding["col"]].iloc[0]) * binding.get("times", 1)


def _from_count(binding: dict, folder: Path) -> float:
    return float(len(_selected(binding["count"], binding.get("row", {}), folder)))


def _from_claims(binding: dict, folder: Path) -> float:
    table = _claims(folder, binding.get("dataset"), binding.get("variant"))
    row = table[(table.id == binding["claim"]) & (table.reading == binding.get("reading", ""))]
    if len(row) != 1:
        raise ValueError(f"claim {binding['claim']!r} reading {binding.get('reading', '')!r}: {len(row)} rows")
    return float(row[binding.get("stat", "mean")].iloc[0]) * binding.get("times", 1)


def _from_code(binding: dict) -> float:
    """``module.attr.attr``, ``module.NAME.key`` or ``module.NAME.key.0``: attribute, key and (for a
    list or tuple, by a whole number) index lookups."""
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
        if isinstance(value, dict):
            value = value[name]
        elif isinstance(value, (list, tuple)) and name.isdigit():
            value = value[int(name)]
        else:
            value = getattr(value, name)
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
    if kinds[0] in DERIVED:
        parts = [value_of(part, folder) for part in binding[kinds[0]]]
        if not parts or any(part is None for part in parts):
            raise ValueError(f"{kinds[0]} of {binding[kinds[0]]} needs computed sources")
        return DERIVED[kinds[0]](parts) * binding.get("times", 1)
    return {"csv": lambda: _from_csv(binding, folder), "claim": lambda: _from_claims(binding, folder),
            "count": lambda: _from_count(binding, folder), "py": lambda: _from_code(binding)}[kinds[0]]()


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
        except (ValueError, KeyError, IndexError, AttributeError, FileNotFoundError, ZeroDivisionError,
                TypeError) as error:
            found.append(f"number {i + 1} ({binding['n']}): {error}")
            continue
        if value is not None and not matches(binding["n"], value):
            found.append(f"number {i + 1} ({binding['n']}): its source gives {value:.6g}")
    return found


def needs_bindings(cells: list, index: int) -> bool:
    """Whether cell ``index`` quotes results: the summary, and every Markdown cell that reads a
    result just computed (one right after a code cell that is not a new heading)."""
    cell = cells[index]
    if cell["cell_type"] != "markdown":
        return False
    text = "".join(cell["source"]).lstrip()
    return text.startswith(SUMMARY) or (index > 0 and cells[index - 1]["cell_type"] == "code"
                                       and not text.startswith("#"))


def _cells(path: Path) -> list:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def notebook_problems(path: Path, folder: Path | None = None) -> list[str]:
    """Every bound cell of a notebook checked; a cell that :func:`needs_bindings` without them is a
    problem."""
    found, cells = [], _cells(path)
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        bindings = cell.get("metadata", {}).get("companion", {}).get("numbers")
        if bindings is None:
            if needs_bindings(cells, index):
                found.append(f"cell {index}: a cell quoting results whose numbers are not bound")
            continue
        found += [f"cell {index}: {problem}" for problem in problems("".join(cell["source"]), bindings, folder)]
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
    """For each cell that :func:`needs_bindings` and has none: one binding per number, the CSV value
    when exactly one matches, else ``{"n": ..., "todo": [candidates]}`` (which the check refuses)."""
    path, out, cells = Path(path), {}, _cells(path)
    for index, cell in enumerate(cells):
        if needs_bindings(cells, index) and "numbers" not in cell.get("metadata", {}).get("companion", {}):
            drafted = []
            for printed in printed_numbers("".join(cell["source"])):
                found = candidates(printed, path.name[:2], folder)
                drafted.append(found[0] if len(found) == 1 else {"n": printed, "todo": found[:5]})
            out[index] = drafted
    return out


def bind(path: Path, bindings: list[dict], cell: int | None = None) -> list[str]:
    """Store ``bindings`` on Markdown cell ``cell`` (default: the summary) and return the check's
    problems (the notebook is rewritten, as JupyterLab would save it, only when there are none)."""
    import json

    import nbformat

    from ..core.notebook_file import write_notebook

    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    if cell is None:
        chosen = [c for c in notebook["cells"] if c["cell_type"] == "markdown"
                  and "".join(c["source"]).lstrip().startswith(SUMMARY)]
        if len(chosen) != 1:
            return [f"{path.name} has {len(chosen)} summary cells, not one"]
    elif not (0 <= cell < len(notebook["cells"])) or notebook["cells"][cell]["cell_type"] != "markdown":
        return [f"{path.name} has no Markdown cell {cell}"]
    else:
        chosen = [notebook["cells"][cell]]
    found = problems("".join(chosen[0]["source"]), bindings)
    if not found:
        chosen[0].setdefault("metadata", {}).setdefault("companion", {})["numbers"] = bindings
        write_notebook(path, nbformat.from_dict(notebook))
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.pipeline.numbers check|draft NOTEBOOK`` or ``bind NOTEBOOK BINDINGS.json
    [--cell N]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("action", choices=["check", "draft", "bind"])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("bindings", type=Path, nargs="?", help="a JSON list of bindings (for bind)")
    parser.add_argument("--cell", type=int, help="bind this Markdown cell (index from 0; default: the summary)")
    args = parser.parse_args(argv)
    if args.action == "draft":
        print(json.dumps(draft(args.notebook), indent=1, ensure_ascii=False))
        return 0
    if args.action == "bind":
        if args.bindings is None:
            parser.error("bind needs a BINDINGS.json")
        found = bind(args.notebook, json.loads(args.bindings.read_text(encoding="utf-8")), args.cell)
    else:
        found = notebook_problems(args.notebook)
    print("\n".join(found) or "no problems")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
