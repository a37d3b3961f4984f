"""The figure registry: every figure file is registered, every entry has exactly one producing
notebook, and the pipeline's publish step keeps the registry and figures/ in step."""
import json

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers.core import paths  # noqa: E402
from helpers.pipeline import manifest  # noqa: E402
from helpers.pipeline.figures import save  # noqa: E402

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
ENTRIES = manifest.load()
PATTERNS = {nb.name: manifest.save_id_patterns(nb) for nb in NOTEBOOKS}


def producers(fig_id: str) -> list[str]:
    return [name for name, patterns in PATTERNS.items() if any(p.match(fig_id) for p in patterns)]


def test_every_figure_file_is_registered():
    unregistered = sorted(manifest.figure_ids_on_disk() - set(ENTRIES))
    assert ENTRIES and not unregistered, f"figures without a MANIFEST.yaml entry: {unregistered}"


@pytest.mark.parametrize("fig_id", sorted(ENTRIES))
def test_entry_has_exactly_one_producing_notebook(fig_id):
    entry = ENTRIES[fig_id]
    assert producers(fig_id) == [entry["notebook"]]
    assert fig_id[:2] == entry["notebook"][:2]
    assert (paths.FIGURES / f"{fig_id}.png").exists() and (paths.FIGURES / f"{fig_id}.pdf").exists()
    assert entry["caption"].strip() and entry["claim"].strip() and entry["revision"]
    assert entry["parameters"]["scale"] in {"quick", "paper"}   # smoke figures are never published


def test_save_id_patterns_read_plain_and_f_string_ids(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('save(fig, "07_front", caption="c")\n'
                                          'for cut in cuts:\n    save(fig, f"07_grid_{cut}", caption="c")')]
    path = tmp_path / "07_x.ipynb"
    nbformat.write(nb, path)
    patterns = manifest.save_id_patterns(path)
    assert [bool(p.match("07_front")) for p in patterns] == [True, False]
    assert [bool(p.match("07_grid_pool1")) for p in patterns] == [False, True]
    assert not any(p.match("07_front_extra") for p in patterns)


def figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    return fig


def test_publish_moves_files_updates_entries_and_drops_stale_ones(tmp_path):
    published, staging = tmp_path / "figures", tmp_path / "staging"
    notebook = paths.NOTEBOOKS / "00_quickstart.ipynb"
    save(figure(), "99_other", folder=staging, caption="another notebook's")
    manifest.publish(staging, paths.NOTEBOOKS / "99_other.ipynb", {"scale": "quick"}, "abc", published)
    save(figure(), "00_old", folder=staging, caption="old figure")
    manifest.publish(staging, notebook, {"scale": "quick"}, "abc", published)
    assert set(manifest.load(published)) == {"00_old", "99_other"}

    save(figure(), "00_new", folder=staging, caption="new figure", claim="GPZ: something")
    assert json.loads((staging / "00_new.meta.json").read_text())["claim"] == "GPZ: something"
    ids = manifest.publish(staging, notebook, {"scale": "paper", "seed": 1}, "def+dirty", published)
    entries = manifest.load(published)
    assert ids == ["00_new"]
    assert set(entries) == {"00_new", "99_other"}      # 00_old is no longer produced by 00: removed
    assert not (published / "00_old.png").exists() and (published / "99_other.png").exists()
    assert entries["00_new"] == {"notebook": "00_quickstart.ipynb", "parameters": {"scale": "paper", "seed": 1},
                                 "caption": "new figure", "claim": "GPZ: something", "revision": "def+dirty"}
    assert not list(staging.iterdir()) and not list(published.glob("*.meta.json"))


def test_save_requires_a_caption(tmp_path):
    with pytest.raises(ValueError, match="caption"):
        save(figure(), "00_demo", folder=tmp_path, caption="  ")


def test_git_revision_is_a_hash():
    revision = manifest.git_revision()
    assert revision == "unknown" or len(revision.split("+")[0]) == 10
