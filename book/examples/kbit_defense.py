"""A defense written outside the project: k-bit quantisation of the features the edge sends.

The edge output z (after a ReLU: non-negative) is clipped to [0, clip] and rounded to one of 2^k
levels before it leaves the device; the cloud trains on what it receives. Training passes the
gradient through the rounding unchanged (the straight-through estimator), so the edge still learns.
"""
import torch

from helpers.defenses import Defense


class KBitQuantisation(Defense):
    name = "kbit"        # how tables and cache keys name it
    version = 1          # bump when this code changes: cached results of the old code are not reused

    def __init__(self, bits: int = 2, clip: float = 4.0):
        if type(bits) is not int or not 1 <= bits <= 16:
            raise ValueError(f"bits must be an integer in [1, 16], got {bits!r}")
        if not clip > 0:
            raise ValueError(f"clip must be positive, got {clip!r}")
        self.bits, self.clip = bits, float(clip)

    def params(self) -> dict:   # everything that determines the defense: its part of every cache key
        return {"bits": self.bits, "clip": self.clip}

    def observe(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        step = self.clip / (2 ** self.bits - 1)
        quantised = torch.round(z.clamp(0, self.clip) / step) * step
        return z + (quantised - z).detach()   # the values of `quantised`, the gradient of z
