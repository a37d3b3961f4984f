"""Publishing the claims table: the scale each notebook ran at (from the figure registry) joined to
:func:`helpers.claims.published_table`, and the README's claims block rewritten from it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import claims
from ..core import io, paths
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


README_COLUMNS = ["source", "claim", "paper says", "primary measure", "verdict"]   # every reading: the book


def readme_block(table: pd.DataFrame) -> str:
    """The README's short form of the table: the rule's column left to the book's full table, the
    scale said once when every claim ran at the same one, and what a second dataset's column is."""
    scales = sorted(set(table.scale))
    columns = README_COLUMNS + ([] if len(scales) == 1 else ["scale"])
    scale = f"Every claim at scale `{scales[0]}`" if len(scales) == 1 else "Every claim"
    other = claims.SECOND_DATASET in table.columns
    column = (f" Column `{claims.SECOND_DATASET}`: the verdict on that dataset's own seeds, \"(differs)\" where "
              f"it is not {claims.DEFAULT_DATASET}'s." if other else "")
    return (f"{README_START}\n{scale} on {claims.DEFAULT_DATASET}. {len(table)} claims; n is the number of seeds; "
            f"intervals are 95%: t-intervals over seeds, exact for counts (rule: the book).{column}"
            f"\n\n{claims.markdown_table(table, columns)}\n{README_END}")


def update_readme(table: pd.DataFrame, readme: Path | None = None) -> bool:
    """Replace the block between the claims markers of README.md; True when it changed."""
    readme = Path(readme) if readme is not None else paths.ROOT / "README.md"
    return io.replace_marked_block(readme, README_START, README_END, readme_block(table))
