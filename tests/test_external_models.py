"""A user's model split at named modules (helpers/models/external.py): exact, shared, and refused
with a clear message when it cannot be split as asked."""

import pytest
import torch
from torch import nn

from helpers.models import build_model, cut_points, source_digest, split, split_at, valid_cuts
from helpers.models.external import ADAPTER, OUTPUT, load_network
from helpers.training import TrainConfig

USER_MODULE = """
    import torch
    from torch import nn

    def tiny(num_classes=10):
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(8 * 14 * 14, num_classes))

    def fixed():                      # no num_classes argument: always 10 outputs
        return tiny(10)

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.fc = nn.Linear(2 * 28 * 28, 10)

        def forward(self, x):
            if x.sum() > 0:           # control flow on a tensor's value: fx cannot trace it
                x = -x
            return self.fc(self.conv(x).flatten(1))

    def branchy(num_classes=10):
        return Branchy()

    def not_a_model(num_classes=10):
        return "a string"
"""


@pytest.fixture
def user_module(users_module):
    return users_module("my_models", USER_MODULE)


def _same_through_every_cut(net, reference, x, cuts):
    net.eval(), reference.eval()
    with torch.no_grad():
        expected = reference(x)
        for cut in cuts:
            edge, cloud = split(net, cut)
            assert torch.equal(cloud(edge(x)), expected), cut


def test_a_torchvision_resnet18_split_at_three_cuts_computes_the_model_exactly():
    torch.manual_seed(0)
    model = load_network("torchvision:resnet18", 10)
    net = split_at(model, ["layer3", "layer1", "layer2"], (1, 28, 28), 10, "torchvision:resnet18")
    assert net.cut_names == [ADAPTER, "layer1", "layer2", "layer3", OUTPUT], "forward order; the adapter is explicit"
    x = torch.rand(3, 1, 28, 28)
    _same_through_every_cut(net, nn.Sequential(getattr(net.blocks, ADAPTER), model), x, ["layer1", "layer2", "layer3"])
    shapes = {p.name: p.feature_shape for p in cut_points(net)}
    assert shapes["layer1"] == (64, 7, 7) and shapes["layer3"] == (256, 2, 2)


def test_a_user_sequential_splits_exactly_and_shares_its_weights(user_module):
    model = load_network(f"{user_module}:tiny", 7)
    net = split_at(model, ["2", "4"], (1, 28, 28), 7, f"{user_module}:tiny")
    assert net.cut_names == ["2", "4", OUTPUT], "1-channel images into a 1-channel model: no adapter"
    x = torch.rand(5, 1, 28, 28)
    _same_through_every_cut(net, model, x, ["2", "4"])
    with torch.no_grad():
        model[0].weight.mul_(2)      # the pieces hold the model's own parameters, not copies
    _same_through_every_cut(net, model, x, ["2", "4"])
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in model.parameters())


def test_a_function_without_num_classes_is_called_bare_and_its_output_checked(user_module):
    net = build_model(f"{user_module}:fixed", (1, 28, 28), 10, cuts=["2"])
    assert net.num_classes == 10
    with pytest.raises(ValueError, match=r"output is \(2, 10\) for a batch of 2, not \(2, 4\) logits"):
        build_model(f"{user_module}:fixed", (1, 28, 28), 4, cuts=["2"])


def test_the_state_dict_of_one_build_loads_into_another():
    first = build_model("torchvision:resnet18", (1, 28, 28), 10, cuts=["layer2"])
    second = build_model("torchvision:resnet18", (1, 28, 28), 10, cuts=["layer2"])
    second.load_state_dict(first.state_dict())
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(first.eval()(x), second.eval()(x))


@pytest.mark.parametrize("cuts, message", [
    (["nope"], r"unknown cut 'nope'; valid cut names of this model: conv1, bn1, relu, maxpool, layer1, "),
    (["fc"], r"cut 'fc' is at or after the model's classifier head"),
    (["layer1.0.conv1"], r"cut 'layer1.0.conv1' is not a split point: besides its output, \['maxpool'\] .* "
                         r"skip connection crosses it"),
    (["layer1", "layer1"], r"cuts must be distinct"),
    ("layer1", r"cuts must be a non-empty list of module names, got 'layer1'"),
    ([OUTPUT], r"unknown cut 'output'"),
])
def test_bad_cuts_are_refused_with_the_valid_names(cuts, message):
    with pytest.raises(ValueError, match=message):
        build_model("torchvision:resnet18", (1, 28, 28), 10, cuts=cuts)


def test_the_valid_cuts_of_a_resnet_are_its_stages_and_blocks_not_layers_inside_a_residual_block():
    cuts = valid_cuts(load_network("torchvision:resnet18", 10))
    assert cuts[:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"] and cuts[-1] == "avgpool"
    assert "layer2.0" in cuts and not any(c.count(".") > 1 for c in cuts), "inside a block a skip crosses"
    assert "fc" not in cuts


@pytest.mark.parametrize("spec, message", [
    ("resnet18", r"unknown arch 'resnet18'; valid: vgg, resnet, constant, torchvision:NAME, package.module:function"),
    ("torchvision:", r"must read 'torchvision:NAME' or 'package.module:function'"),
    ("torchvision:resnet1800", r"unknown torchvision classification model 'resnet1800'; valid: .*resnet18"),
    ("no_such_package_xyz:model", r"cannot import 'no_such_package_xyz'"),
    ("{m}:absent", r"'my_models' has no function 'absent'"),
    ("{m}:not_a_model", r"returned str, not a torch.nn.Module"),
    ("{m}:branchy", r"the model's forward cannot be traced by torch.fx"),
])
def test_bad_models_are_refused_before_any_training(spec, message, user_module):
    with pytest.raises(ValueError, match=message):
        build_model(spec.format(m=user_module), (1, 28, 28), 10, cuts=["conv"])


def test_an_image_shape_the_model_cannot_take_is_named(user_module):
    with pytest.raises(ValueError, match=r"images of 3 channels cannot feed a model whose first layer takes 1"):
        build_model(f"{user_module}:tiny", (3, 32, 32), 10, cuts=["2"])
    with pytest.raises(ValueError, match=r"cannot take images of shape \(1, 32, 32\) \(RuntimeError"):
        build_model(f"{user_module}:tiny", (1, 32, 32), 10, cuts=["2"])


def test_a_train_config_of_a_user_model_needs_its_cuts_and_keys_its_code(user_module, users_module):
    with pytest.raises(ValueError, match=r"needs cuts: a non-empty list of module names"):
        TrainConfig(arch="torchvision:resnet18")
    with pytest.raises(ValueError, match=r"cuts are set for a user's model only"):
        TrainConfig(arch="vgg", cuts=("pool1",))
    with pytest.raises(ValueError, match=r"width applies to the built-in architectures"):
        TrainConfig(arch="torchvision:resnet18", cuts=["layer1"], width=8)
    config = TrainConfig(arch=f"{user_module}:tiny", cuts=["2", "4"])
    assert config.cuts == ("2", "4")
    fields = config.cache_fields()
    assert fields["cuts"] == ["2", "4"] and fields["model_source"] == source_digest(f"{user_module}:tiny")
    assert "cuts" not in TrainConfig().cache_fields(), "the built-in models keep their keys"
    edited = users_module("my_models_edited", USER_MODULE.replace("8 * 14", "8*14"))
    assert source_digest(f"{edited}:tiny") != source_digest(f"{user_module}:tiny"), "edited code, new key"
    assert source_digest("torchvision:resnet18").startswith("torchvision ")
