"""PATROL (privacy-oriented pruning, notebook 06): put more layers on the edge and prune them so
the deeper edge fits the budget of a shallower one, with a Lipschitz penalty and adversarial
reconstruction training.

* **Soft masks.** Every convolution of the edge but the last gets a :class:`ChannelGate`: its output
  channels are scaled by |m|, m trainable, with an L1 penalty (``sparsity``) pulling m towards 0.
* **Pruning to a budget.** Before epoch ``round(prune_at·epochs)`` the channels with the smallest
  |m| (one global threshold) are switched off until the edge's FLOPs (or parameters) fit
  ``budget``; later epochs fine-tune the rest. :func:`prune_edge` then builds the physically
  smaller edge (the masks folded into the next convolution), whose outputs equal the masked ones.
* **Lipschitz.** For blocks f_1, ..., f_L and a Gaussian perturbation δ of the input, block i's
  local constant is the largest ratio over the batch of ‖f_i(h'_{i−1}) − f_i(h_{i−1})‖ /
  ‖h'_{i−1} − h_{i−1}‖, h and h' the clean and perturbed activations entering block i (PATROL's
  README: k_i = sup_x of that ratio); the loss adds ``lipschitz``·Σ_i k_i (equal α_i: the README
  gives none), measured on the edge as deployed (BatchNorm in eval mode).
* **Adversarial reconstruction.** min over the model of task loss − β·MSE of a surrogate decoder,
  max over the decoder, alternating (:class:`~helpers.defenses.training.AdversarialTraining`).

The last convolution's channels make up z, so they are not pruned: the cloud and the payload stay
as they are. VGG-style models only (pruning across skip connections needs channel groups).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..core.config import check_choice, check_nonnegative, check_range
from ..core.repro import module_device
from ..models import SplittableNet, split
from .base import Defense, rebuild

METRICS = ("flops", "params")


def local_lipschitz(blocks, x: torch.Tensor, delta_std: float, generator: torch.Generator | None = None,
                    eps: float = 1e-12) -> torch.Tensor:
    """One estimate per block (a differentiable tensor of length len(blocks)), max over the batch."""
    check_range("delta_std", delta_std, 0.0, low_inclusive=False)
    clean = x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    perturbed = x + delta_std * noise
    ratios = []
    for block in blocks:
        gap_in = (perturbed - clean).flatten(1).norm(dim=1)
        clean, perturbed = block(clean), block(perturbed)
        gap_out = (perturbed - clean).flatten(1).norm(dim=1)
        ratios.append((gap_out / gap_in.clamp_min(eps)).max())
    return torch.stack(ratios)


class ChannelGate(nn.Module):
    """Scales channel j by |m_j|·alive_j: m a trainable soft mask, alive 0 for pruned channels."""

    def __init__(self, channels: int):
        super().__init__()
        self.mask = nn.Parameter(torch.ones(channels))
        self.register_buffer("alive", torch.ones(channels))

    @property
    def gate(self) -> torch.Tensor:
        return self.mask.abs() * self.alive

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * self.gate.view(1, -1, 1, 1)


def _first_conv(block: nn.Module) -> nn.Conv2d | None:
    return next((m for m in block.modules() if isinstance(m, nn.Conv2d)), None)


def _edge_blocks(model, cut: str) -> list[tuple[str, nn.Module]]:

    return list(split(model, cut)[0].named_children())


def _conv_layout(model, cut: str) -> list[dict]:
    """Per edge convolution, in order: its block, kernel size·size, output pixels and channels."""
    layout, hooks = [], []
    for name, block in _edge_blocks(model, cut):
        conv = _first_conv(block)
        if conv is not None:
            entry = {"block": name, "kernel": conv.kernel_size[0] * conv.kernel_size[1], "c_out": conv.out_channels,
                     "gated": isinstance(block, nn.Sequential) and isinstance(block[-1], ChannelGate)}
            hooks.append(conv.register_forward_hook(lambda m, i, o, e=entry: e.update(pixels=o.shape[2] * o.shape[3])))
            layout.append(entry)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *model.input_shape, device=module_device(model)))
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    return layout


def edge_cost_of(layout: list[dict], channels: list[int], in_channels: int, metric: str) -> float:
    """The edge's forward FLOPs per image (convolutions, 2 per multiply-add) or its parameters
    (conv weights + BatchNorm), for ``channels`` output channels per convolution of ``layout``.
    Pooling, ReLU and BatchNorm cost no FLOPs, as in :func:`helpers.models.cut_points`."""
    total, c_in = 0, in_channels
    for entry, c_out in zip(layout, channels):
        total += (2 * entry["kernel"] * c_in * c_out * entry["pixels"] if metric == "flops"
                  else entry["kernel"] * c_in * c_out + 2 * c_out)
        c_in = c_out
    return total


class Patrol(Defense):
    """PATROL at a (deep) cut: gated edge channels pruned to ``budget`` (MFLOPs for ``metric="flops"``,
    parameters for ``"params"``), with optional Lipschitz and adversarial terms (see the module)."""

    name = "patrol"

    def __init__(self, budget: float, metric: str = "flops", sparsity: float = 1e-3, prune_at: float = 0.5,
                 lipschitz: float = 0.0, delta_std: float = 0.1, adversarial: float = 0.0, width: int = 32,
                 lr: float = 1e-3):
        from .training import AdversarialTraining

        self.budget = check_range("budget", budget, 0.0, low_inclusive=False)
        self.metric = check_choice("metric", metric, METRICS)
        self.sparsity = check_nonnegative("sparsity", sparsity)
        self.prune_at = check_range("prune_at", prune_at, 0.0, 1.0)
        self.lipschitz = check_nonnegative("lipschitz", lipschitz)
        self.delta_std = check_range("delta_std", delta_std, 0.0, low_inclusive=False)
        self.adversary = AdversarialTraining(adversarial, width, lr)  # validates weight, width and lr
        self._edge, self._gates, self._pruned = None, [], False

    def params(self) -> dict:
        return {"budget": self.budget, "metric": self.metric, "sparsity": self.sparsity, "prune_at": self.prune_at,
                "lipschitz": self.lipschitz, "delta_std": self.delta_std, "adversarial": self.adversary.weight,
                "width": self.adversary.width, "lr": self.adversary.lr}

    @property
    def _limit(self) -> float:
        return self.budget * 1e6 if self.metric == "flops" else self.budget

    def build(self, model, cut):
        if model.arch != "vgg":
            raise ValueError(f"PATROL prunes the VGG-style model's plain convolutions, not {model.arch!r}")
        edge = _edge_blocks(model, cut)
        if any(isinstance(m, nn.Linear) for _, block in edge for m in block.modules()):
            raise ValueError(f"PATROL needs a convolutional cut (pool3 or earlier), got {cut!r}")
        convs = [name for name, block in edge if _first_conv(block) is not None]
        if len(convs) < 2:
            raise ValueError(f"at {cut!r} the edge has one convolution, whose channels are z: nothing to prune")
        blocks = OrderedDict((name, nn.Sequential(block, ChannelGate(_first_conv(block).out_channels))
                              if name in convs[:-1] else block) for name, block in model.blocks.named_children())
        gated = rebuild(model, blocks)
        layout = _conv_layout(gated, cut)
        smallest = edge_cost_of(layout, [1] * (len(layout) - 1) + [layout[-1]["c_out"]], model.input_shape[0], self.metric)
        if smallest > self._limit:
            raise ValueError(f"a budget of {self.budget:g} {'MFLOPs' if self.metric == 'flops' else 'parameters'} "
                             f"cannot be met at {cut!r}: one channel per pruned layer still costs "
                             f"{smallest / (1e6 if self.metric == 'flops' else 1):g}")
        return gated

    def before_epoch(self, edge, x, y, epoch, epochs):
        self._edge = edge
        self._gates = [m for m in edge.modules() if isinstance(m, ChannelGate)]
        if epoch == max(1, round(self.prune_at * epochs)) and not self._pruned:
            with torch.no_grad():
                prune_to_budget(edge, self._gates, tuple(x.shape[1:]), self._limit, self.metric)
            self._pruned = True

    def edge_loss(self, x, z, y=None):
        loss = self.adversary.edge_loss(x, z, y)
        if self.sparsity > 0 and not self._pruned and self._gates:
            loss = loss + self.sparsity * sum(gate.mask.abs().sum() for gate in self._gates)
        if self.lipschitz > 0 and self._edge is not None:
            loss = loss + self.lipschitz * self._lipschitz_term(x)
        return loss

    def _lipschitz_term(self, x):
        """Σ_i k_i of the edge as deployed: BatchNorm with its running statistics (eval mode), so the
        term neither sees batch statistics (which normalise a perturbed batch anew) nor updates them."""
        was_training = self._edge.training
        self._edge.eval()
        try:
            return local_lipschitz(list(self._edge.children()), x, self.delta_std).sum()
        finally:
            self._edge.train(was_training)

    def match_architecture(self, fresh, deployed):
        alive = {name: buffer for name, buffer in deployed.named_buffers() if name.endswith("alive")}
        for name, buffer in fresh.named_buffers():
            if name in alive:
                buffer.copy_(alive[name])
        return fresh

    def deploy(self, model, cut):
        return prune_edge(model, cut)


def prune_to_budget(edge: nn.Sequential, gates: list[ChannelGate], input_shape: tuple, limit: float, metric: str) -> int:
    """Switch off the channels of smallest |m| (over all gates) until the edge costs at most ``limit``
    (FLOPs or parameters); each gate keeps at least one channel. Returns how many were switched off."""
    probe = rebuild_like(edge, input_shape)
    layout = _conv_layout(probe, list(edge._modules)[-1])
    gate_of = {entry["block"]: gate for entry, gate in zip([e for e in layout if e["gated"]], gates)}
    counts = [int(gate_of[e["block"]].alive.sum()) if e["gated"] else e["c_out"] for e in layout]
    position = {e["block"]: i for i, e in enumerate(layout)}
    order = sorted(((float(gate.gate[j].detach()), block, j) for block, gate in gate_of.items()
                    for j in gate.alive.nonzero().flatten().tolist()))
    removed = 0
    for _, block, j in order:
        if edge_cost_of(layout, counts, input_shape[0], metric) <= limit:
            break
        i = position[block]
        if counts[i] > 1:
            gate_of[block].alive[j] = 0.0
            counts[i] -= 1
            removed += 1
    return removed


def rebuild_like(edge: nn.Sequential, input_shape: tuple):
    """A :class:`~helpers.models.SplittableNet` view of an edge (same modules, shared weights)."""

    return SplittableNet(OrderedDict(edge.named_children()), input_shape, 0, "vgg")


def prune_edge(model, cut: str):
    """The model with its edge physically pruned: gated convolutions keep only their alive channels,
    the gate's |m| is folded into the next convolution's input weights (max pooling commutes with a
    non-negative per-channel scale), and the gates are gone. Same outputs; fewer edge parameters and
    FLOPs (count them with :func:`helpers.models.cut_points`)."""
    blocks, carry = OrderedDict(), None  # carry: (kept indices, scale) of the last gated layer
    edge_names = [name for name, _ in _edge_blocks(model, cut)]
    for name, block in model.blocks.named_children():
        if name not in edge_names or _first_conv(block) is None:
            blocks[name] = block
            continue
        gate = block[-1] if isinstance(block[-1], ChannelGate) else None
        inner = block[0] if gate is not None else block
        keep_out = gate.alive.nonzero().flatten() if gate is not None else None
        blocks[name] = _slice_conv_block(inner, carry, keep_out)
        carry = (keep_out, gate.gate.detach()[keep_out]) if gate is not None else None
    return rebuild(model, blocks).eval()


def _slice_conv_block(block: nn.Sequential, carry, keep_out) -> nn.Sequential:
    """A copy of a conv-BN-ReLU block with input channels ``carry[0]`` (scaled by ``carry[1]``) and
    output channels ``keep_out`` (None: all)."""
    conv, bn = block[0], block[1]
    assert conv.bias is None, "the VGG-style convolutions have no bias (BatchNorm follows)"
    weight = conv.weight.detach()
    if carry is not None:
        weight = weight[:, carry[0]] * carry[1].view(1, -1, 1, 1)
    if keep_out is not None:
        weight = weight[keep_out]
    out_idx = keep_out if keep_out is not None else torch.arange(conv.out_channels)
    new_conv = nn.Conv2d(weight.shape[1], weight.shape[0], conv.kernel_size, conv.stride, conv.padding, bias=False)
    new_conv.weight.data.copy_(weight)
    new_bn = nn.BatchNorm2d(len(out_idx), eps=bn.eps, momentum=bn.momentum)
    for attribute in ("weight", "bias", "running_mean", "running_var"):
        getattr(new_bn, attribute).data.copy_(getattr(bn, attribute).detach()[out_idx])
    new_bn.num_batches_tracked.copy_(bn.num_batches_tracked)
    return nn.Sequential(new_conv, new_bn, *list(block)[2:])
