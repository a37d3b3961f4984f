"""Several defenses at once (CEM's setting: its code always adds Gaussian noise, and stacks another
obfuscation defense on top of it, e.g. noise + adversarial training or noise + bottleneck)."""
from __future__ import annotations

from .base import Defense, from_config


class Stack(Defense):
    """The parts, in order: each changes the architecture in turn, their training losses add up, and
    at inference the cloud observes ``parts[-1].observe(... parts[0].observe(z))``.

    At most one part may set the label smoothing and at most one the task-loss weight, so a stack
    never silently overrides a part's training targets. CEM is a plug-in on a stack, not a part.
    """

    name = "stack"

    def __init__(self, parts: list):
        if not isinstance(parts, (list, tuple)) or len(parts) < 2:
            raise ValueError(f"a stack needs a list of at least two defense configs, got {parts!r}")
        self.parts = [from_config(part) for part in parts]
        for part in self.parts:
            if part.name in ("none", "stack", "cem"):
                raise ValueError(f"{part.name!r} cannot be a part of a stack (CEM goes on top: CEM(base=stack))")
        for attribute, neutral in (("label_smoothing", None), ("task_weight", 1.0)):
            setters = [p for p in self.parts if getattr(p, attribute) != neutral]
            if len(setters) > 1:
                raise ValueError(f"{setters[0]} and {setters[1]} both set {attribute}: keep one of them")

    def params(self) -> dict:
        return {"parts": [part.config() for part in self.parts]}

    @property
    def sigma(self) -> float | None:
        """The Gaussian-noise level of the stack (for CEM's hinge), None without a noise part."""
        levels = [part.sigma for part in self.parts if part.name == "noise"]
        return levels[0] if len(levels) == 1 else None

    def build(self, model, cut):
        for part in self.parts:
            model = part.build(model, cut)
        return model

    def observe(self, z, generator=None):
        for part in self.parts:
            z = part.observe(z, generator)
        return z

    @property
    def is_random(self) -> bool:
        return any(part.is_random for part in self.parts)

    @property
    def observes_unchanged(self) -> bool:
        return all(part.observes_unchanged for part in self.parts)

    @property
    def label_smoothing(self):
        return next((p.label_smoothing for p in self.parts if p.label_smoothing is not None), None)

    @property
    def task_weight(self) -> float:
        return next((p.task_weight for p in self.parts if p.task_weight != 1.0), 1.0)

    def edge_loss(self, x, z, y=None):
        return sum((part.edge_loss(x, z, y) for part in self.parts), 0.0)

    def before_epoch(self, edge, x, y, epoch, epochs):
        for part in self.parts:
            part.before_epoch(edge, x, y, epoch, epochs)

    def deploy(self, model, cut):
        for part in self.parts:
            model = part.deploy(model, cut)
        return model

    def match_architecture(self, fresh, deployed):
        for part in self.parts:
            fresh = part.match_architecture(fresh, deployed)
        return fresh
