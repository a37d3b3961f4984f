"""The paper-claims table (notebook 08 and the README).

Notebooks 02 and 04-07 each write a ``NN_claims.csv`` (claim, paper, ours, verdict). ``collect``
gathers them with the paper each speaks to, the scale and revision it was measured at (from
``figures/MANIFEST.yaml``) and a verdict on one three-step scale. ``update_readme`` writes the table
between two markers in README.md; ``make figures`` calls it after notebook 08.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import manifest, paths

PAPERS = {"02": "GPZ", "04": "SiftFunnel", "05": "CEM", "06": "PATROL", "07": "cross-paper (07)"}
VERDICTS = ("reproduced", "same direction", "not reproduced")
README_START, README_END = "<!-- claims:start -->", "<!-- claims:end -->"


def normalise_verdict(verdict: str) -> str:
    """A notebook's detailed verdict on the three-step scale: ``reproduced`` only when the notebook
    says so without qualification of the main quantity; ``not reproduced`` when it says so;
    anything partial ("partly", "same direction", "raw: reproduced; scale-free: ...") in between."""
    text = verdict.strip().lower()
    if text.startswith("not reproduced"):
        return "not reproduced"
    if text.startswith("reproduced"):
        return "reproduced"
    if text.startswith(("partly", "same direction")) or "reproduced" in text:
        return "same direction"
    raise ValueError(f"cannot read the verdict {verdict!r}")


def collect(folder: Path | None = None) -> pd.DataFrame:
    """Every claims CSV in ``folder`` (default figures/) as one table, in notebook order."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    entries = manifest.load(folder)
    frames = []
    for path in sorted(folder.glob("[0-9][0-9]_claims.csv")):
        if path.stem[:2] not in PAPERS:
            continue
        part = pd.read_csv(path)
        missing = {"claim", "paper", "ours", "verdict"} - set(part.columns)
        if missing:
            raise ValueError(f"{path.name} lacks the column(s) {sorted(missing)}")
        entry = entries.get(path.stem, {})
        part.insert(0, "source", PAPERS[path.stem[:2]])
        part = part.rename(columns={"paper": "paper says", "ours": "we measure", "verdict": "detail"})
        part["verdict"] = part.detail.map(normalise_verdict)
        part["scale"] = entry.get("parameters", {}).get("scale", "unregistered")
        part["notebook"] = entry.get("notebook", path.stem[:2])
        frames.append(part)
    if not frames:
        raise FileNotFoundError(f"no NN_claims.csv in {folder}: run `make figures` first")
    return pd.concat(frames, ignore_index=True)


def markdown_table(table: pd.DataFrame) -> str:
    columns = ["source", "claim", "paper says", "we measure", "scale", "verdict"]
    cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)


def readme_block(table: pd.DataFrame) -> str:
    return f"{README_START}\n{markdown_table(table)}\n{README_END}"


def update_readme(table: pd.DataFrame, readme: Path | None = None) -> bool:
    """Replace the block between the claims markers of README.md; True when it changed."""
    readme = Path(readme) if readme is not None else paths.ROOT / "README.md"
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme.name} has no {README_START} ... {README_END} block")
    updated = text[:start] + readme_block(table) + text[end + len(README_END):]
    if updated != text:
        readme.write_text(updated)
    return updated != text
