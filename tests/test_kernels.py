"""Kernels we start do not print ipykernel's unencrypted-TCP warning; a user's profile is left alone."""
import os
import subprocess
import sys

import nbformat

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
    kernels.quiet_kernels()
    ours = os.environ["IPYTHONDIR"]
    assert ours == str(paths.BUILD / "ipython")
    assert "without encryption" not in run_trivial_notebook(tmp_path, ours)
    # the check can fail: a fresh, empty profile prints the warning
    assert "without encryption" in run_trivial_notebook(tmp_path, str(tmp_path / "empty-profile"))


def test_a_users_profile_is_left_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "mine"))
    kernels.quiet_kernels()
    assert os.environ["IPYTHONDIR"] == str(tmp_path / "mine") and not (tmp_path / "mine").exists()


def test_figures_show_inline_even_when_mplbackend_is_agg(tmp_path, monkeypatch):
    """`make` exports MPLBACKEND=agg; the executed notebooks (and the book) still hold the figures."""
    monkeypatch.setenv("MPLBACKEND", "agg")
    monkeypatch.delenv("IPYTHONDIR", raising=False)
    kernels.quiet_kernels()
    code = "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"
    shown = lambda: [o for o in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs  # noqa: E731
                     if "image/png" in o.get("data", {})]
    run_trivial_notebook(tmp_path, os.environ["IPYTHONDIR"], code)
    assert len(shown()) == 1
    run_trivial_notebook(tmp_path, str(tmp_path / "empty-profile"), code)
    assert shown() == [], "the check can fail: with agg and no profile nothing is shown"

