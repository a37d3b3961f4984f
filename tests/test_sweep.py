"""helpers/sweep.py on a real local Ray instance: notebook 00 at smoke, seeds 0 and 1, plus one bad job."""
import json

import nbformat
import pandas as pd
import pytest

from helpers import claims, sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_grid_covers_every_combination():
    jobs = sweep.grid(["00", "04"], [1, 2], ["mnist5k", "cifar10"], ["smoke"])
    assert len(jobs) == 8 and len({job.name for job in jobs}) == 8
    assert sweep.Job("02_intra_class_variance", "quick", 1).parameters() == {
        "scale": "quick", "seed": 1, "other_datasets": []}
    assert sweep.Job("04_siftfunnel", "paper", 2, "cifar10").parameters() == {
        "scale": "paper", "seed": 2, "dataset": "cifar10"}


def test_a_gpu_is_asked_for_paper_scale_with_cuda_only():
    options = {(scale, cuda): sweep.task_options(sweep.Job("00_quickstart", scale, 1), 2, cuda, 1)["num_gpus"]
               for scale in ("quick", "paper") for cuda in (False, True)}
    assert options == {("quick", False): 0, ("quick", True): 0, ("paper", False): 0, ("paper", True): 1}


def test_sweep_runs_resumes_and_names_failures(tmp_path, local_ray):
    out, figures = tmp_path / "sweep", tmp_path / "figures"
    good = [sweep.Job("00_quickstart", "smoke", seed) for seed in (0, 1)]
    bad = sweep.Job("00_quickstart", "smoke", 0, "no-such-dataset")
    report = sweep.sweep(good + [bad], out, figures, cpus=2, retries=0, progress=False)
    assert sorted(report.finished) == sorted(job.name for job in good)
    assert list(report.failed) == [bad.name] and "no-such-dataset" in report.failed[bad.name]
    for job in good:
        folder = job.folder(out)
        executed = nbformat.read(folder / "00_quickstart.ipynb", as_version=4)
        assert executed.metadata.papermill.parameters == {"scale": "smoke", "seed": job.seed}
        training = pd.read_csv(folder / "00_training.csv")   # no claim rows: the figure data comes back
        assert len(training) > 0 and (folder / "00_reconstructions.csv").exists()
        record = json.loads((folder / sweep.RECORD).read_text())
        assert record["parameters"] == {"scale": "smoke", "seed": job.seed}
    # the kernels ran this checkout's helpers (keys with an environment) and shared this test's cache
    trained = [json.loads(m.read_text()) for m in (tmp_path / "cache" / "classifier").glob("*.json")]
    assert len(trained) == 2 and all(t["config"]["environment"]["device"] == "cpu" for t in trained)
    assert not (bad.folder(out) / sweep.RECORD).exists() and not (figures / claims.SEED_FOLDER).exists()
    again = sweep.sweep(good, out, figures, cpus=2, retries=0, progress=False)
    assert again.submitted == [] and sorted(again.skipped) == sorted(job.name for job in good)
