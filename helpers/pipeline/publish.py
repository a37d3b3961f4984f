"""Publishing the claims table: the scale each notebook ran at (from the figure registry) joined to
:func:`helpers.claims.published_table`, and the README's claims block rewritten from it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import claims
from ..core import paths
from . import manifest

README_START, README_END = "<!-- claims:start -->", "<!-- claims:end -->"


def registered_scales(folder: Path | None = None) -> dict:
    """Notebook number -> the scale its claims figure was published at (``figures/MANIFEST.yaml``)."""
    entries = manifest.load(folder)
    return {key[:2]: entry.get("parameters", {}).get("scale", "unregistered")
            for key, entry in entries.items() if key.endswith("_claims")}


def collect(folder: Path | None = None, dataset: str | None = None, variant: str | None = None) -> pd.DataFrame:
    """:func:`helpers.claims.collect` with the scales of the figure registry in ``folder``."""
    return claims.collect(folder, dataset, variant, scales=registered_scales(folder))


def published_table(folder: Path | None = None) -> pd.DataFrame:
    """The table of README.md and notebook 08 (:func:`helpers.claims.published_table`), with scales."""
    return claims.published_table(folder, scales=registered_scales(folder))


def readme_block(table: pd.DataFrame) -> str:
    return f"{README_START}\n{claims.markdown_table(table)}\n{README_END}"


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
