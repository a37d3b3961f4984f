"""``figures/MANIFEST.yaml``: the registry of every published figure.

One entry per figure id: the notebook that produced it, the parameters it ran with, its caption,
the paper claim it speaks to, and the git revision of the code. ``helpers.pipeline.figures.save`` leaves a
small ``<id>.meta.json`` beside each staged figure; ``make figures`` (``helpers.pipeline.run``) folds
them in here after the notebook succeeded and drops the entries (and files) the notebook no longer
produces. ``tests/test_manifest.py`` checks the registry against ``figures/`` and the notebooks.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

from ..core import paths
from ..core.io import atomic_write_text

MANIFEST_NAME = "MANIFEST.yaml"
META_SUFFIX = ".meta.json"
FIGURE_SUFFIXES = (".png", ".pdf", ".csv")
# save(fig, "NN_name", ...) or save(fig, f"NN_{cut}", ...): the id argument of a save call
_SAVE_ID = re.compile(r"""save\(\s*\w+\s*,\s*(f?)["']([^"']+)["']""")


def manifest_path(folder: Path | None = None) -> Path:
    return (Path(folder) if folder is not None else paths.FIGURES) / MANIFEST_NAME


def load(folder: Path | None = None) -> dict:
    """The registry as ``{id: entry}`` (empty when there is none yet)."""
    import yaml

    path = manifest_path(folder)
    if not path.exists():
        return {}
    entries = yaml.safe_load(path.read_text()) or {}
    if not isinstance(entries, dict):
        raise ValueError(f"{path} must map figure ids to entries")
    return entries


def write(entries: dict, folder: Path | None = None) -> Path:
    """Write the registry sorted by id, atomically."""
    import yaml

    path = manifest_path(folder)
    text = ("# Written by `make figures` (helpers/pipeline/manifest.py); do not edit by hand.\n"
            + yaml.safe_dump({k: entries[k] for k in sorted(entries)}, sort_keys=False, allow_unicode=True,
                             width=100))
    atomic_write_text(path, text)
    return path


def git_revision() -> str:
    """Short hash of HEAD, with ``+dirty`` when code outside ``figures/`` has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout

    try:
        revision = git("rev-parse", "--short=10", "HEAD").strip()
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)figures").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision + ("+dirty" if dirty else "")


def write_meta(folder: Path, fig_id: str, caption: str, claim: str | None) -> Path:
    path = Path(folder) / f"{fig_id}{META_SUFFIX}"
    path.write_text(json.dumps({"caption": caption, "claim": claim}))
    return path


def publish(staging: Path, notebook: Path, parameters: dict, revision: str, folder: Path | None = None
            ) -> list[str]:
    """Move a succeeded notebook's staged figures into ``folder`` (default ``figures/``) and update
    the registry: its entries are replaced by what this run produced; files of figures it no longer
    produces are removed. Returns the published ids.
    """
    folder = Path(folder) if folder is not None else paths.FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    entries = load(folder)
    produced = {}
    for meta in sorted(staging.glob(f"*{META_SUFFIX}")):
        fig_id = meta.name[: -len(META_SUFFIX)]
        info = json.loads(meta.read_text())
        produced[fig_id] = {"notebook": notebook.name, "parameters": copy.deepcopy(parameters),  # no YAML anchors
                            "caption": info["caption"], "claim": info.get("claim") or "none",
                            "revision": revision}
        meta.unlink()
    for stale in [k for k, v in entries.items() if v.get("notebook") == notebook.name and k not in produced]:
        for suffix in FIGURE_SUFFIXES:
            (folder / f"{stale}{suffix}").unlink(missing_ok=True)
        del entries[stale]
    for staged in sorted(staging.iterdir()):
        staged.replace(folder / staged.name)
    entries.update(produced)
    write(entries, folder)
    return sorted(produced)


def figure_ids_on_disk(folder: Path | None = None) -> set[str]:
    folder = Path(folder) if folder is not None else paths.FIGURES
    return {p.stem for p in folder.iterdir() if p.suffix in FIGURE_SUFFIXES}


def staged(folder: Path) -> dict:
    """The registry entries a run left beside its figures in ``folder`` (a run outside ``make
    figures``, e.g. ``make test``'s notebooks): ``{id: {"caption": ..., "claim": ...}}``."""
    return {meta.name[: -len(META_SUFFIX)]: json.loads(meta.read_text())
            for meta in sorted(Path(folder).glob(f"*{META_SUFFIX}"))}


def save_id_patterns(notebook: Path) -> list[re.Pattern]:
    """The figure ids a notebook's ``save`` calls can produce, as regexes (f-string fields match
    any lower-case name)."""
    import nbformat

    source = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    return save_id_patterns_in(source)


def save_id_patterns_in(source: str) -> list[re.Pattern]:
    """The figure ids the ``save`` calls of ``source`` (code) can produce, as regexes."""
    patterns = []
    for is_f, template in _SAVE_ID.findall(source):
        parts = re.split(r"\{[^}]*\}", template) if is_f else [template]
        patterns.append(re.compile("^" + "[a-z0-9_]+".join(map(re.escape, parts)) + "$"))
    return patterns
