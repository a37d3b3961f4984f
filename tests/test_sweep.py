"""helpers/pipeline/sweep.py on a real local Ray instance: notebook 00 at smoke, seeds 0 and 1, plus one bad job."""
import json

import nbformat
import pandas as pd
import pytest

from helpers import claims
from helpers.pipeline import sweep

ray = pytest.importorskip("ray")

# pytest-xdist (make test): one Ray at a time: never beside the two-node cluster of test_ray_cluster
pytestmark = pytest.mark.xdist_group("ray")


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


def test_a_variant_run_keeps_every_seed_apart(tmp_path):
    """``--set classifier_epochs=6``: the parameter reaches every job; its rows, seed 0 included,
    go to figures/claims/classifier_epochs6/, never to the published files."""
    assert sweep.parse_setting("classifier_epochs=6") == ("classifier_epochs", 6)
    for bad in ("classifier_epochs", "6=6", "x=../up", "x=[1, 2]"):
        with pytest.raises(ValueError):
            sweep.parse_setting(bad)
    [job] = sweep.grid(["04"], [0], ["mnist5k"], ["quick"], {"classifier_epochs": 6})
    assert job.parameters() == {"scale": "quick", "seed": 0, "classifier_epochs": 6}
    assert job.variant == "classifier_epochs6" and "classifier_epochs6" in job.name
    assert job.folder(tmp_path) == tmp_path / "quick" / "mnist5k-classifier_epochs6" / "seed0" / "04_siftfunnel"
    rows = claims.rows_frame([claims.record("sift.edge", 0, 43.0)]).to_csv(index=False).encode()
    written = sweep.write_result(job, {"executed": b"{}", "files": {"04_claims.csv": rows}, "seconds": 1.0,
                                       "node": "here"}, tmp_path / "out", tmp_path / "figures", "code")
    assert tmp_path / "figures" / "claims" / "classifier_epochs6" / "04_claims_seed0.csv" in written
    assert claims.collect_rows(tmp_path / "figures", variant="classifier_epochs6").value.tolist() == [43.0]
    with pytest.raises(FileNotFoundError):   # the default run sees none of the variant's rows
        claims.collect_rows(tmp_path / "figures")


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
