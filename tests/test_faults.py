"""Faults: nothing lost when two runs meet or one stops part-way, no hang on a bad option. Each case
checks its message and that nothing was written, lost or left running."""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
import pytest

from helpers.core import paths
from helpers.pipeline import manifest, run, sweep
from helpers.pipeline.figures import save

matplotlib.use("agg")


def figure():
    import matplotlib.pyplot as plt

    fig = plt.figure()
    plt.plot([0, 1])
    return fig


def snapshot(folder: Path) -> dict:
    """Every file of ``folder`` and its contents' hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def published(tmp_path) -> tuple[Path, Path, Path]:
    """A figures folder holding 00_old and 99_other, and an empty staging folder."""
    folder, staging = tmp_path / "figures", tmp_path / "staging"
    notebook = paths.NOTEBOOKS / "00_quickstart.ipynb"
    save(figure(), "99_other", folder=staging, caption="another notebook's")
    manifest.publish(staging, paths.NOTEBOOKS / "99_other.ipynb", {"scale": "quick"}, "abc", folder)
    save(figure(), "00_old", folder=staging, caption="old figure", data=__import__("pandas").DataFrame({"a": [1]}))
    manifest.publish(staging, notebook, {"scale": "quick"}, "abc", folder)
    return folder, staging, notebook


def test_a_publish_that_fails_part_way_leaves_the_old_figures_whole(tmp_path, monkeypatch):
    folder, staging, notebook = published(tmp_path)
    before = snapshot(folder)
    save(figure(), "00_new", folder=staging, caption="new figure")
    save(figure(), "00_old", folder=staging, caption="old figure, redrawn")
    real, moved = Path.replace, []

    def fail_on_the_third(self, target):
        if len(moved) == 2:
            raise OSError(28, "No space left on device")
        moved.append(self.name)
        return real(self, target)

    monkeypatch.setattr(Path, "replace", fail_on_the_third)
    with pytest.raises(OSError, match="No space left"):
        manifest.publish(staging, notebook, {"scale": "quick"}, "def", folder)
    monkeypatch.undo()
    assert len(moved) == 2, "two files had been replaced when it failed"
    assert snapshot(folder) == before, "old files back, new ones gone, the registry as it was"
    assert not (folder / manifest.PENDING).exists()


CRASH = """
import os, sys
from pathlib import Path
from helpers.pipeline import manifest
folder = Path(sys.argv[1])
with manifest.transaction(folder, ["00_old.png", "00_brand_new.png", manifest.MANIFEST_NAME]):
    (folder / "00_old.png").write_bytes(b"half of a new figure")
    (folder / "00_brand_new.png").write_bytes(b"new")
    os._exit(9)   # killed part-way: no exception handler runs
"""


def test_a_publish_killed_part_way_is_undone_by_the_next_run(tmp_path):
    folder, staging, notebook = published(tmp_path)
    before = snapshot(folder)
    killed = subprocess.run([sys.executable, "-c", CRASH, str(folder)], cwd=paths.ROOT, capture_output=True)
    assert killed.returncode == 9 and snapshot(folder) != before and (folder / manifest.PENDING).exists()
    save(figure(), "00_old", folder=staging, caption="old figure, redrawn")
    manifest.publish(staging, notebook, {"scale": "quick"}, "def", folder)   # the next run undoes it first
    after = snapshot(folder)
    assert "00_brand_new.png" not in after and not (folder / manifest.PENDING).exists()
    assert after["99_other.png"] == before["99_other.png"]
    assert manifest.load(folder)["00_old"]["caption"] == "old figure, redrawn"
    assert manifest.recover(folder) is False


def test_recover_alone_restores_the_old_set(tmp_path):
    folder, _, _ = published(tmp_path)
    before = snapshot(folder)
    subprocess.run([sys.executable, "-c", CRASH, str(folder)], cwd=paths.ROOT, capture_output=True)
    assert manifest.recover(folder) is True
    assert snapshot(folder) == before


def test_a_second_make_figures_refuses_while_the_first_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run, "LOCK", tmp_path / "figures.lock")
    monkeypatch.setattr(run, "run_all", lambda notebooks, scale: pytest.fail("the second run must not start"))
    with run.one_run_at_a_time():
        assert run.main(["--only", "00"]) == 3
    err = capsys.readouterr().err
    assert "another `make figures` is running" in err and "figures.lock" in err
    monkeypatch.setattr(run, "run_all", lambda notebooks, scale: 0)
    assert run.main(["--only", "00"]) == 0, "once the first one is done, the lock is free"


def test_only_with_no_names_is_refused(capsys):
    with pytest.raises(SystemExit):
        run.main(["--only"])
    assert "--only needs at least one notebook" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--cpus-per-task", "0"], "--cpus-per-task must be a positive number, got 0"),
    (["--cpus-per-task", "nan"], "--cpus-per-task must be a positive number"),
    (["--retries", "-1"], "--retries must be 0 or more, got -1"),
    (["--datasets", "mnist5k,not-a-dataset"], "dataset"),
    (["--set", "seed=7"], "--set seed=... would file every job under one seed: use --seeds instead"),
    (["--set", "dataset=mnist"], "use --datasets instead"),
])
def test_the_sweep_refuses_bad_options_before_anything_runs(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep, "sweep", lambda *a, **k: pytest.fail("nothing may be submitted"))
    assert sweep.main(["--notebooks", "00", "--seeds", "1", "--out", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_address_where_no_cluster_answers_fails_at_once_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep, "sweep", lambda *a, **k: pytest.fail("nothing may be submitted"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    start = time.perf_counter()
    assert sweep.main(["--notebooks", "00", "--seeds", "1", "--address", "127.0.0.1:1",
                       "--out", str(tmp_path / "out")]) == 2
    assert time.perf_counter() - start < 30
    assert "no Ray cluster answers at 127.0.0.1:1" in capsys.readouterr().err
    with socket.socket() as listening:   # something listens: the probe lets Ray take it from there
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        sweep.check_reachable(f"127.0.0.1:{listening.getsockname()[1]}")


def test_more_cpus_per_task_than_the_cluster_has_is_refused():
    with pytest.raises(ValueError, match="--cpus-per-task 1000 exceeds the 2 CPUs of the Ray cluster"):
        sweep.check_fits(1000, 2.0)
    sweep.check_fits(2, 2.0)


def test_a_truncated_record_means_not_done_with_a_warning_naming_it(tmp_path):
    job = sweep.Job("00_quickstart", "smoke", 1)
    record = job.folder(tmp_path) / sweep.RECORD
    record.parent.mkdir(parents=True)
    record.write_text('{"key": "abc", "outp')
    with pytest.warns(UserWarning, match="not a valid record"):
        assert sweep.is_done(job, tmp_path, "code") is False
    record.write_text("[1, 2]")
    with pytest.warns(UserWarning, match=str(record.name)):
        assert sweep.is_done(job, tmp_path, "code") is False


def test_make_test_works_from_a_path_with_a_space(tmp_path):
    """The Makefile quotes $(CURDIR): a stand-in interpreter prints what make passes it."""
    checkout = tmp_path / "a checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(paths.ROOT / "Makefile", checkout / "Makefile")
    shutil.copy(paths.ROOT / "pyproject.toml", checkout / "pyproject.toml")
    python = checkout / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\necho \"figures=$MIA_FIGURES_DIR\"\n")
    python.chmod(0o755)
    (checkout / ".venv" / ".installed").touch()
    os.utime(checkout / "pyproject.toml", (0, 0))   # the install stamp is newer: no pip run
    done = subprocess.run(["make", "-s", "test"], cwd=checkout, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"figures={checkout}/build/test-figures" in done.stdout


@pytest.mark.parametrize("variable", ["MIA_CACHE_DIR", "MIA_FIGURES_DIR", "DATA_DIR"])
def test_an_empty_folder_variable_is_an_error_not_the_current_folder(variable, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, " ")
    import helpers

    with pytest.raises(ValueError, match=rf"\${variable} is set but empty: unset it"):
        {"MIA_CACHE_DIR": paths.cache_dir, "MIA_FIGURES_DIR": paths.figures_dir, "DATA_DIR": paths.raw_data_dir}[variable]()
    if variable != "DATA_DIR":
        with pytest.raises(ValueError, match=variable):
            helpers.setup_notebook(scale="smoke")
    assert list(tmp_path.iterdir()) == [], "nothing written where the run started"


@pytest.mark.parametrize("variant", ["../../../../etc", "a/b", "..", ""])
def test_a_name_that_becomes_a_path_stays_inside_its_folder(variant, tmp_path):
    from helpers import claims

    if variant == "":
        assert claims.complete_variant_rows.__name__   # an empty variant is refused by its own check
        with pytest.raises(ValueError, match="name the variant run"):
            claims.complete_variant_rows(variant, tmp_path)
        return
    with pytest.raises(ValueError, match="must be a plain name"):
        claims.complete_variant_rows(variant, tmp_path)
    with pytest.raises(ValueError, match="must be a plain name"):
        claims.seed_file("04", 1, tmp_path, variant=variant)
    assert list(tmp_path.iterdir()) == []
