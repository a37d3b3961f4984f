"""Kernels we start do not print ipykernel's unencrypted-TCP warning (a user's profile is left alone)
and import the helpers of the checkout that starts them. That they show figures inline under
MPLBACKEND=agg is tested end to end, through the book, in tests/test_book_figures.py."""
import os
import subprocess
import sys

import nbformat
import pytest

from helpers.core import kernels, paths

RUN = """
import papermill, sys
papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3", progress_bar=False)
"""


def run_trivial_notebook(tmp_path, ipythondir, code="x = 1"):
    source = tmp_path / "t.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, source)
    env = {k: v for k, v in os.environ.items() if k != "IPYTHONDIR"}
    if ipythondir:
        env["IPYTHONDIR"] = ipythondir
    done = subprocess.run([sys.executable, "-c", RUN, str(source), str(tmp_path / "out.ipynb")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_quiet_profile_silences_the_tcp_warning(tmp_path, monkeypatch):
    monkeypatch.delenv("IPYTHONDIR", raising=False)
    kernels.prepare_kernels()
    ours = os.environ["IPYTHONDIR"]
    assert ours == str(paths.BUILD / "ipython")
    assert "without encryption" not in run_trivial_notebook(tmp_path, ours)
    # the check can fail: a fresh, empty profile prints the warning
    assert "without encryption" in run_trivial_notebook(tmp_path, str(tmp_path / "empty-profile"))


def test_a_users_profile_is_left_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "mine"))
    kernels.prepare_kernels()
    assert os.environ["IPYTHONDIR"] == str(tmp_path / "mine") and not (tmp_path / "mine").exists()


def second_checkout(tmp_path):
    """A second checkout of this project (its helpers and a notebooks/ folder) with no .venv of its
    own: it runs this checkout's interpreter, whose editable install points here."""
    import shutil

    other = tmp_path / "second checkout"
    shutil.copytree(paths.ROOT / "helpers", other / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    (other / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import helpers\nprint(helpers.__file__)")]
    nbformat.write(nb, other / "notebooks" / "t.ipynb")
    return other


DRIVE = """
import papermill, sys
from helpers.core import kernels
if sys.argv[1] == "prepared":
    kernels.prepare_kernels()
papermill.execute_notebook("notebooks/t.ipynb", "out.ipynb", kernel_name="python3", cwd="notebooks",
                           progress_bar=False)
"""


def test_kernels_import_the_helpers_of_the_checkout_that_starts_them(tmp_path):
    """Before: a kernel of the second checkout imported the first one's helpers (and wrote into
    its folders); prepare_kernels puts the starting checkout first on PYTHONPATH."""
    other = second_checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IPYTHONDIR")}
    imported = {}
    for how in ("prepared", "bare"):
        subprocess.run([sys.executable, "-c", DRIVE, how], cwd=other, env=env, check=True, capture_output=True,
                       timeout=120)
        imported[how] = nbformat.read(other / "out.ipynb", as_version=4).cells[0].outputs[0]["text"].strip()
    assert imported["prepared"] == str(other / "helpers" / "__init__.py")
    assert imported["bare"] == str(paths.ROOT / "helpers" / "__init__.py"), "the check can fail: the editable install"


def test_setup_notebook_refuses_another_checkouts_helpers(tmp_path, monkeypatch):
    other = second_checkout(tmp_path)
    monkeypatch.chdir(other / "notebooks")
    import helpers

    with pytest.raises(RuntimeError, match="another checkout") as error:
        helpers.setup_notebook(scale="smoke")
    assert str(other) in str(error.value) and "make env" in str(error.value)
    assert paths.checkout_of(other / "notebooks") == other.resolve()
    assert paths.checkout_of(paths.NOTEBOOKS) == paths.ROOT and paths.checkout_of(tmp_path) is None
    monkeypatch.chdir(paths.NOTEBOOKS)
    paths.check_same_checkout(paths.NOTEBOOKS)   # its own checkout: no error
