"""Training throughput of the classifiers, against the machine's measured matrix-multiply peak.

Run through ``benchmarks/run.py`` (``make benchmarks``), which writes benchmarks/RESULTS.md.
All numbers come from one run on one machine, so their ratios are comparable; absolute values are not
portable. FLOPs per image are counted by torch's FlopCounterMode over one forward+backward step
(conv and matmul only; a multiply-add counts 2).
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from helpers.models import build_model


def matmul_peak(n: int = 1024, seconds: float = 3.0) -> float:
    """Best sustained fp32 FLOP/s of an n×n matrix multiply."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(5):
            torch.mm(a, b)
        best = max(best, 5 * 2 * n**3 / (time.perf_counter() - start))
    return best


def train_step(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def training_throughput(arch: str, batch: int = 128, steps: int = 20, channels_last: bool = False):
    """(images per second, FLOPs per image for forward+backward)."""
    torch.manual_seed(0)
    model = build_model(arch)
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(model, optimizer, x, y)
    for _ in range(3):
        train_step(model, optimizer, x, y)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, x, y)
    return steps * batch / (time.perf_counter() - start), counter.get_total_flops() / batch


def section(peak: float) -> list[str]:
    rows = []
    for arch in ("vgg", "resnet"):
        for channels_last in (False, True):
            images_per_s, flops = training_throughput(arch, channels_last=channels_last)
            rows.append((arch, "channels_last" if channels_last else "contiguous", images_per_s, flops,
                         images_per_s * flops / peak))
    return [
        "## Training throughput (batch 128, 1×28×28, Adam; `benchmarks/bench_training.py`)", "",
        "| model | memory format | images/s | GFLOP per image (fwd+bwd) | share of matmul peak |",
        "|---|---|---|---|---|",
        *[f"| {a} | {m} | {ips:.0f} | {f / 1e9:.4f} | {share:.0%} |" for a, m, ips, f, share in rows],
        "",
    ]
