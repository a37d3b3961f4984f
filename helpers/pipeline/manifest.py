"""``figures/MANIFEST.yaml``: the registry of every published figure.

One entry per figure id: the notebook that produced it, the parameters it ran with, its caption,
the paper claim it speaks to, and the git revision of the code. ``helpers.pipeline.figures.save`` leaves a
small ``<id>.meta.json`` beside each staged figure; ``make figures`` (``helpers.pipeline.run``) folds
them in here after the notebook succeeded and drops the entries (and files) the notebook no longer
produces. ``tests/test_manifest.py`` checks the registry against ``figures/`` and the notebooks.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import sys
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


def write_meta(folder: Path, fig_id: str, caption: str, claim: str | None, shown: bool = True) -> Path:
    path = Path(folder) / f"{fig_id}{META_SUFFIX}"
    path.write_text(json.dumps({"caption": caption, "claim": claim, **({} if shown else {"shown": False})}))
    return path


def publish(staging: Path, notebook: Path, parameters: dict, revision: str, folder: Path | None = None
            ) -> list[str]:
    """Move a succeeded notebook's staged figures into ``folder`` (default ``figures/``) and update
    the registry: its entries are replaced by what this run produced; files of figures it no longer
    produces are removed. Returns the published ids.

    All or nothing (:func:`transaction`): a failure part-way, or a crash (undone by the next
    publish), leaves the old figures and registry whole, never a mix of old and new files.
    """
    folder = Path(folder) if folder is not None else paths.FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    entries = load(folder)
    metas = sorted(staging.glob(f"*{META_SUFFIX}"))
    produced = {}
    for meta in metas:
        info = json.loads(meta.read_text())
        produced[meta.name[: -len(META_SUFFIX)]] = {
            "notebook": notebook.name, "parameters": copy.deepcopy(parameters),  # no YAML anchors
            "caption": info["caption"], "claim": info.get("claim") or "none", "revision": revision,
            **({"shown": False} if info.get("shown") is False else {})}
    stale = [k for k, v in entries.items() if v.get("notebook") == notebook.name and k not in produced]
    staged_files = [p for p in sorted(staging.iterdir()) if p not in metas]
    targets = ([f"{k}{suffix}" for k in stale for suffix in FIGURE_SUFFIXES] + [p.name for p in staged_files]
               + [MANIFEST_NAME])
    with transaction(folder, targets):
        for name in targets[: len(stale) * len(FIGURE_SUFFIXES)]:
            (folder / name).unlink(missing_ok=True)
        for staged_file in staged_files:
            staged_file.replace(folder / staged_file.name)
        write({**{k: v for k, v in entries.items() if k not in stale}, **produced}, folder)
    for meta in metas:
        meta.unlink()
    return sorted(produced)


PENDING = ".publishing"        # in the figures folder while a publish is under way: backups and journal
JOURNAL = "journal.json"


@contextlib.contextmanager
def transaction(folder: Path, names: list[str]):
    """Change the files ``names`` of ``folder`` all or not at all: each existing one is first
    copied into ``folder/.publishing/``, a journal lists them, and an exception inside the
    block (or a crash, at the next :func:`recover`) puts every one back as it was."""
    pending = folder / PENDING
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir()
    existed = [name for name in names if (folder / name).exists()]
    for name in existed:   # copies, not hard links: a file rewritten in place must not change its backup
        shutil.copy2(folder / name, pending / name)
    atomic_write_text(pending / JOURNAL, json.dumps({"names": names, "existed": existed}))
    try:
        yield
    except BaseException:
        rollback(folder)
        raise
    shutil.rmtree(pending)


def rollback(folder: Path) -> None:
    """Undo a publish recorded in ``folder/.publishing/``: old files back, new ones removed."""
    pending = folder / PENDING
    journal = json.loads((pending / JOURNAL).read_text())
    for name in journal["names"]:
        if name in journal["existed"]:
            os.replace(pending / name, folder / name)
        else:
            (folder / name).unlink(missing_ok=True)
    shutil.rmtree(pending)


def recover(folder: Path) -> bool:
    """Undo a publish a crash interrupted (its journal is still there); True when there was one."""
    pending = Path(folder) / PENDING
    if not pending.exists():
        return False
    if (pending / JOURNAL).exists():
        rollback(Path(folder))
        print(f"an interrupted publish in {folder} was undone: its figures are as before it", file=sys.stderr)
    else:   # a crash before the journal was written: nothing had changed yet
        shutil.rmtree(pending)
    return True


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
