"""benchmarks/gpu_check.py: the CPU's time read from RESULTS.md, the direction check, and a clear
refusal without a CUDA device (CI never has one; the dry run on the CPU is `--device cpu`)."""
import pandas as pd
import torch

from benchmarks import gpu_check
from helpers.core import paths


def test_the_cpu_time_is_the_cold_column_of_the_notebooks_table():
    text = "| notebook | cold s | warm s |\n|---|---|---|\n| 00_quickstart.ipynb | 32 | 9 |\n| 01_x.ipynb | 40 | 5 |\n"
    assert gpu_check.cpu_seconds(text) == 32.0
    assert gpu_check.cpu_seconds(text, "01_x.ipynb") == 40.0
    assert gpu_check.cpu_seconds((paths.ROOT / "benchmarks" / "RESULTS.md").read_text()) > 0, "the committed one"


def test_the_direction_is_the_order_of_the_mse_over_the_cuts_and_the_reference():
    cpu = pd.DataFrame({"cut": ["pool1", "fc1", "mean aux image"], "mse": [0.002, 0.03, 0.066]})
    scaled = cpu.assign(mse=cpu.mse / 10)                    # every value lower, the same order
    swapped = cpu.assign(mse=[0.002, 0.07, 0.066])           # the deep cut above the blind reference
    assert gpu_check.same_direction(scaled, cpu) and not gpu_check.same_direction(swapped, cpu)
    assert gpu_check.mse_order(swapped) == ["pool1", "mean aux image", "fc1"]


def test_without_cuda_nothing_runs_and_the_status_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 3
    assert "no CUDA device is visible; nothing was run" in capsys.readouterr().err
