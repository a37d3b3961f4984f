"""Any network as a :class:`~helpers.models.nets.SplittableNet`: a user's model split at named modules.

A model is named by a *spec*: ``"torchvision:resnet18"`` (a torchvision classification architecture,
randomly initialised) or ``"package.module:function"`` (a function returning an ``nn.Module``; it is
given ``num_classes=`` when it takes that argument). :func:`split_at` traces the model's forward with
``torch.fx`` (the real module graph, nothing rewritten by hand), treating each cut module as one
node, and cuts the graph there. A cut is valid where everything after it depends on the input only
through that module's output (one tensor crosses: no skip connection jumps over it), and it is not
the model's output. The pieces become the blocks of a :class:`SplittableNet` named after the cuts
(the rest is the block ``"output"``); they share the model's parameters, so
``cloud(edge(x))`` is ``model(x)`` exactly.

Images with fewer channels than the model's first layer takes (1-channel MNIST into an RGB
architecture) go through an explicit :class:`RepeatChannels` adapter, the block ``"adapter"``;
it is never hidden in the model.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
from collections import OrderedDict

import torch
from torch import fx, nn

from .nets import SplittableNet

OUTPUT = "output"      # the block after the last cut
ADAPTER = "adapter"    # the channel adapter block, when one is needed


class RepeatChannels(nn.Module):
    """Repeats a 1-channel image to ``channels`` channels (no parameters)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, self.channels, -1, -1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def _call(function, num_classes: int) -> nn.Module:
    parameters = inspect.signature(function).parameters
    takes = "num_classes" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    return function(num_classes=num_classes) if takes else function()


def load_network(spec: str, num_classes: int) -> nn.Module:
    """The ``nn.Module`` a spec names, freshly initialised (see the module docstring)."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"model spec {spec!r} must read 'torchvision:NAME' or 'package.module:function'")
    where, name = spec.split(":")
    if where == "torchvision":
        import torchvision

        valid = torchvision.models.list_models(module=torchvision.models)
        if name not in valid:
            raise ValueError(f"unknown torchvision classification model {name!r}; valid: {', '.join(valid)}")
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise ValueError(f"model spec {spec!r}: cannot import {where!r} ({error})") from error
        function = getattr(module, name, None)
        if not callable(function):
            raise ValueError(f"model spec {spec!r}: {where!r} has no function {name!r}")
        model = _call(function, num_classes)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model spec {spec!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def source_digest(spec: str) -> str:
    """What identifies the code behind ``spec``: torchvision's version, or a digest of the source file
    of the user's module (an edited model is a new model: its cached weights are not reused)."""
    where, _ = spec.split(":")
    if where == "torchvision":
        import torchvision

        return f"torchvision {torchvision.__version__}"
    module = importlib.import_module(where)
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError) as error:
        raise ValueError(f"model spec {spec!r}: the source of {where!r} cannot be read to key its cache "
                         f"({error})") from error
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def first_layer_channels(model: nn.Module) -> int | None:
    """The input channels of the model's first convolution (None if it has none)."""
    first = next((m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    return None if first is None else first.in_channels


class _CutTracer(fx.Tracer):
    """fx's tracer, with the cut modules kept whole (one node each)."""

    def __init__(self, cuts):
        super().__init__()
        self.cuts = set(cuts)

    def is_leaf_module(self, module: nn.Module, name: str) -> bool:
        return name in self.cuts or super().is_leaf_module(module, name)


def _trace(model: nn.Module, cuts) -> fx.Graph:
    try:
        return _CutTracer(cuts).trace(model)
    except Exception as error:   # fx raises TraceError, TypeError, NotImplementedError, ...
        raise ValueError(f"the model's forward cannot be traced by torch.fx ({type(error).__name__}: {error}); "
                         "it must not branch on the values of tensors") from error


def _data_inputs(node: fx.Node) -> list[fx.Node]:
    """The nodes ``node`` reads that carry data (parameters read by get_attr are re-read where used)."""
    return [n for n in node.all_input_nodes if n.op != "get_attr"]


def _crossing(nodes: list[fx.Node], position: int) -> set[fx.Node]:
    """The data nodes at or before ``position`` read by a node after it (the output node included)."""
    later = nodes[position + 1:]
    return {n for node in later for n in _data_inputs(node) if nodes.index(n) <= position}


def _cut_node(nodes: list[fx.Node], cut: str) -> fx.Node:
    calls = [n for n in nodes if n.op == "call_module" and n.target == cut]
    if len(calls) != 1:
        raise ValueError(f"cut {cut!r}: the module is called {len(calls)} times in the forward; "
                         "a cut must be a module called once")
    return calls[0]


def _has_weights(model: nn.Module, nodes: list[fx.Node]) -> bool:
    """Does any of ``nodes`` call a module with parameters or read a parameter?"""
    def weighted(node: fx.Node) -> bool:
        return node.op == "call_module" and any(True for _ in model.get_submodule(node.target).parameters())

    return any(n.op == "get_attr" or weighted(n) for n in nodes)


def _check_boundary(model: nn.Module, nodes: list[fx.Node], node: fx.Node, cut: str) -> int:
    position = nodes.index(node)
    if not _has_weights(model, nodes[position + 1:]):
        raise ValueError(f"cut {cut!r} is at or after the model's classifier head: no layer with weights would run "
                         "on the cloud; choose a module before it")
    crossing = _crossing(nodes, position)
    if crossing != {node}:
        others = sorted(n.name for n in crossing - {node})
        raise ValueError(f"cut {cut!r} is not a split point: besides its output, {others} from before it are "
                         "used after it (a skip connection crosses it)")
    return position


def _segment(root: nn.Module, nodes: list[fx.Node], source: fx.Node, result) -> fx.GraphModule:
    """A module computing ``result`` from ``source`` through ``nodes`` (the graph between them)."""
    graph = fx.Graph()
    env = {source: graph.placeholder("x")}

    def value(n: fx.Node) -> fx.Node:
        if n not in env:   # a parameter or buffer read before this segment: read it here too
            env[n] = graph.node_copy(n, value)
        return env[n]

    for node in nodes:
        if node.op not in ("placeholder", "output"):
            env[node] = graph.node_copy(node, value)
    graph.output(fx.node.map_arg(result, value))   # the model's output may be a tuple or a dict of nodes
    return fx.GraphModule(root, graph)


def split_at(model: nn.Module, cuts, input_shape: tuple, num_classes: int, arch: str) -> SplittableNet:
    """``model`` as a chain of blocks ending at each of ``cuts`` (module names as ``named_modules()``
    prints them, in any order), then the block ``"output"``; with a :class:`RepeatChannels` block
    ``"adapter"`` first when ``input_shape`` has fewer channels than the model's first layer.
    Raises ValueError for an unknown name, a cut that is not a split point, a model fx cannot trace,
    or an input shape the model cannot take."""
    cuts = check_cut_names(model, cuts)
    graph = _trace(model, cuts)
    nodes = list(graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ValueError(f"the model's forward takes {len(placeholders)} inputs; a split model takes one image batch")
    positioned = sorted((_check_boundary(model, nodes, _cut_node(nodes, cut), cut), cut) for cut in cuts)
    blocks = OrderedDict()
    channels = first_layer_channels(model)
    if channels is not None and input_shape[0] != channels:
        if input_shape[0] != 1:
            raise ValueError(f"images of {input_shape[0]} channels cannot feed a model whose first layer takes "
                             f"{channels}; only 1-channel images are adapted (repeated)")
        blocks[ADAPTER] = RepeatChannels(channels)
    source, start = placeholders[0], nodes.index(placeholders[0]) + 1
    for position, cut in positioned:
        blocks[cut] = _segment(model, nodes[start:position + 1], source, nodes[position])
        source, start = nodes[position], position + 1
    [output] = [n for n in nodes if n.op == "output"]
    blocks[OUTPUT] = _segment(model, nodes[start:], source, output.args[0])
    net = SplittableNet(blocks, input_shape, num_classes, arch)
    _check_runs(net, model, input_shape, num_classes)
    return net


def check_cut_names(model: nn.Module, cuts) -> list[str]:
    """``cuts`` as a list of distinct module names of ``model``; an unknown one lists the valid ones."""
    if isinstance(cuts, str) or not cuts:
        raise ValueError(f"cuts must be a non-empty list of module names, got {cuts!r}")
    names = dict(model.named_modules())
    reserved = {OUTPUT, ADAPTER, ""}
    for cut in cuts:
        if cut in reserved or cut not in names:
            raise ValueError(f"unknown cut {cut!r}; valid cut names of this model: {', '.join(valid_cuts(model))}")
    if len(set(cuts)) != len(cuts):
        raise ValueError(f"cuts must be distinct, got {list(cuts)}")
    return list(cuts)


def valid_cuts(model: nn.Module) -> list[str]:
    """Every module name of ``model`` that is a split point, in forward order."""
    found = []
    for name, _ in model.named_modules():
        if not name or name in (OUTPUT, ADAPTER):
            continue
        try:
            nodes = list(_trace(model, [name]).nodes)
            found.append((_check_boundary(model, nodes, _cut_node(nodes, name), name), name))
        except ValueError:
            continue
    return [name for _, name in sorted(found)]


def _check_runs(net: SplittableNet, model: nn.Module, input_shape: tuple, num_classes: int) -> None:
    """A forward pass on zeros of ``input_shape``: the model takes it and returns one logit per class."""
    was_training = model.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, *input_shape))
    except Exception as error:
        raise ValueError(f"the model cannot take images of shape {tuple(input_shape)} "
                         f"({type(error).__name__}: {error})") from error
    finally:
        net.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model's output is {shape} for a batch of 2, not (2, {num_classes}) logits")
