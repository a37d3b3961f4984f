import pytest
import torch

from helpers.models import ARCHS, build_model, cut_points, cut_table, split


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_split_is_exact_at_every_cut(arch, shape):
    torch.manual_seed(0)
    model = build_model(arch, shape).eval()
    x = torch.rand(4, *shape)
    with torch.no_grad():
        reference = model(x)
        assert reference.shape == (4, 10)
        for point in cut_points(model):
            edge, cloud = split(model, point.name)
            z = edge(x)
            assert tuple(z.shape[1:]) == point.feature_shape and z[0].numel() == point.feature_dim
            assert torch.equal(cloud(z), reference), point.name


def test_edge_and_model_share_weights():
    model = build_model("vgg")
    edge, _ = split(model, "pool1")
    assert edge[0][0].weight is model.blocks.relu1[0].weight


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_edge_cost_grows_and_ends_at_the_whole_model(arch):
    model = build_model(arch)
    points = cut_points(model)
    params = [p.edge_params for p in points]
    flops = [p.edge_flops for p in points]
    assert params == sorted(params) and flops == sorted(flops)
    assert params[-1] == sum(p.numel() for p in model.parameters())
    assert cut_table(model).index.tolist() == model.cut_names


def test_flops_hand_computed():
    points = {p.name: p for p in cut_points(build_model("vgg", (1, 28, 28), width=32))}
    first_conv = 2 * 32 * 28 * 28 * 9 * 1            # 2 FLOPs per multiply-add, 3×3 kernel, 1 input channel
    second_conv = 2 * 32 * 28 * 28 * 9 * 32
    assert points["relu1"].edge_flops == first_conv
    assert points["relu2"].edge_flops == first_conv + second_conv
    assert points["pool1"].edge_flops == points["relu2"].edge_flops  # pooling is not counted
    assert points["relu1"].edge_params == 9 * 32 + 2 * 32          # conv without bias + BN scale and shift
    assert points["pool3"].feature_shape == (128, 3, 3) and points["logits"].feature_shape == (10,)


def test_bad_names_are_refused():
    model = build_model("vgg")
    with pytest.raises(ValueError, match="valid: relu1, relu2, pool1"):
        split(model, "conv9")
    with pytest.raises(ValueError, match="valid: vgg, resnet"):
        build_model("vit")
    with pytest.raises(ValueError, match="unsupported input shape"):
        build_model("vgg", (3, 48, 48))   # 28, 32 and 64 only


def test_constant_width_model_keeps_the_feature_dimension():
    points = cut_points(build_model("constant"))
    conv = [p for p in points if p.name.startswith("conv")]
    assert [p.feature_dim for p in conv] == [8 * 28 * 28] * 6
    assert points[-1].name == "logits" and points[-1].feature_dim == 10
