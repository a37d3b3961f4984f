"""What a reader finds in an executed notebook (make figures, make test, a sweep: kernels started
through helpers.core.kernels): no progress-bar dump, no kernel warning, no path of the machine that
ran it. Checked on every notebook of this session's smoke run (conftest.smoke_run), and on hand-made
loops for the progress lines themselves."""
import json
import os
from pathlib import Path

import pytest

from helpers.core import paths, progress
from helpers.pipeline.run import numbered_notebooks

NOTEBOOKS = numbered_notebooks()
MAX_LINES = 6          # lines a cell may print to stderr (a warning, a line per finished stage)
WIDGET = "application/vnd.jupyter.widget-view+json"


def outputs(executed: Path):
    """(notebook, cell index, output) of every code cell output of every executed notebook."""
    for nb in NOTEBOOKS:
        for index, cell in enumerate(json.loads((executed / nb.name).read_text())["cells"]):
            for output in cell.get("outputs", []):
                yield nb.name, index, output


def test_no_progress_bar_is_stored_and_no_kernel_warning(smoke_run):
    executed, _ = smoke_run
    bars, long, warned = [], [], []
    for name, index, output in outputs(executed):
        text = "".join(output.get("text", ""))
        if WIDGET in output.get("data", {}) or "\r" in text or "it/s]" in text:
            bars.append(f"{name} cell {index}")
        if output.get("name") == "stderr" and len(text.splitlines()) > MAX_LINES:
            long.append(f"{name} cell {index}: {len(text.splitlines())} lines")
        if "without encryption" in text:
            warned.append(f"{name} cell {index}")
    assert (bars, long, warned) == ([], [], [])


def test_outputs_a_reader_sees_name_no_path_of_this_machine(smoke_run):
    """Warnings print without their module's path (helpers.core.display); the LPIPS warning names
    its weights' file, not the folder of this machine's torch cache."""
    import torch

    machine = [str(paths.ROOT), str(Path(torch.hub.get_dir()).parent)]
    found = [f"{name} cell {index}: {place}" for name, index, output in outputs(smoke_run[0])
             for place in machine
             if place in "".join(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))]
    assert found == []


def test_a_finished_stage_prints_one_line_and_an_inner_loop_none(monkeypatch, capsys):
    monkeypatch.setenv(progress.PROGRESS_ENV_VAR, progress.LINES)
    outer = progress.progress(["pool1", "fc1"], desc="cuts", unit="cut")
    assert len(outer) == 2
    for _ in outer:
        inner = progress.progress(range(3), desc="fit inverse network", leave=False)
        inner.set_postfix(loss="0.1")
        assert list(inner) == [0, 1, 2]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cuts: 2 cut in ") and lines[0].endswith(" s")


def test_a_person_gets_a_bar(monkeypatch):
    from tqdm.auto import tqdm

    monkeypatch.delenv(progress.PROGRESS_ENV_VAR, raising=False)
    bar = progress.progress(range(2), desc="cuts", leave=False)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]


def test_kernels_we_start_ask_for_lines(monkeypatch):
    from helpers.core import kernels

    monkeypatch.delenv(progress.PROGRESS_ENV_VAR, raising=False)
    monkeypatch.setenv("IPYTHONDIR", os.environ.get("IPYTHONDIR", str(paths.BUILD / "ipython")))
    kernels.prepare_kernels()
    assert os.environ[progress.PROGRESS_ENV_VAR] == progress.LINES
    with pytest.raises(TypeError, match="unknown length"):
        len(progress.StageLine(iter([1]), "stream", None, True, "it"))
