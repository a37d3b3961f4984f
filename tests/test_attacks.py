import pytest
import torch

from helpers import attacks
from helpers.evaluation import scoring
from helpers.attacks import InverseNetworkAttack
from helpers.data import load_dataset, split_dataset


@pytest.fixture(scope="module")
def digits():
    s = split_dataset(load_dataset("mnist5k"), 100, 200, 800, seed=0)
    return s.aux.x, s.test.x


def test_inverse_network_inverts_an_identity_edge(digits):
    x_aux, x_test = digits
    attack = InverseNetworkAttack((1, 28, 28), (1, 28, 28), width=16, epochs=5, batch_size=32, lr=1e-2,
                                  seed=0, device="cpu")
    attack.fit(x_aux, x_aux)
    x_hat = attack.reconstruct(x_test)
    blind = ((x_aux.mean(0, keepdim=True) - x_test) ** 2).mean().item()   # no-feature guess: about 0.07
    error = ((x_hat - x_test) ** 2).mean().item()
    print(f"identity edge: MSE {error:.5f} vs blind guess {blind:.4f}")
    assert error < 0.002 and error < blind / 30


def test_reconstructions_have_the_input_shape_range_and_are_seeded(digits):
    x_aux, x_test = digits
    z_aux, z_test = x_aux.flatten(1)[:, ::7], x_test.flatten(1)[:, ::7]  # a flat 112-value "edge"
    runs = [InverseNetworkAttack((112,), (1, 28, 28), width=8, epochs=1, seed=3, device="cpu").fit(x_aux, z_aux)
            for _ in range(2)]
    a, b = (run.reconstruct(z_test) for run in runs)
    assert a.shape == x_test.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)


def test_the_decoder_fit_gives_the_bits_of_per_tensor_adam(digits, monkeypatch):
    """The fit's Adam runs foreach (fewer calls per step, issue 27): every cached decoder must stay
    what the per-tensor Adam it was computed with gives, bit for bit, conv and flat features alike."""
    from helpers.attacks import learned

    x_aux, x_test = digits
    adam = torch.optim.Adam
    per_tensor = lambda params, **kw: adam(params, **{**kw, "foreach": False})  # noqa: E731
    for shape, features in (((4, 14, 14), lambda x: torch.nn.functional.avg_pool2d(x, 2).repeat(1, 4, 1, 1)),
                            ((112,), lambda x: x.flatten(1)[:, ::7])):
        fit = lambda: InverseNetworkAttack(shape, (1, 28, 28), width=8, depth=0, epochs=2, batch_size=32,  # noqa: E731
                                           lr=3e-3, seed=1, device="cpu").fit(x_aux, features(x_aux))
        ours = fit()
        with monkeypatch.context() as patched:
            patched.setattr(learned.torch.optim, "Adam", per_tensor)
            reference = fit()
        for name, tensor in ours.decoder.state_dict().items():
            assert torch.equal(tensor, reference.decoder.state_dict()[name]), (shape, name)
        assert torch.equal(ours.reconstruct(features(x_test)), reference.reconstruct(features(x_test)))


def test_wrong_feature_shape_is_refused(digits):
    x_aux, _ = digits
    attack = InverseNetworkAttack((4, 7, 7), (1, 28, 28), epochs=1, device="cpu")
    with pytest.raises(ValueError, match="features of shape"):
        attack.fit(x_aux, torch.zeros(len(x_aux), 4, 8, 8))
    with pytest.raises(ValueError, match="C×H×W or flat"):
        InverseNetworkAttack((2, 3), (1, 28, 28))


def test_total_variation_hand_computed():
    x = torch.zeros(1, 1, 2, 3)
    x[0, 0, :, 2] = 1.0  # a vertical edge: horizontal differences (0, 1) in both rows, none vertical
    assert attacks.total_variation(x).item() == pytest.approx(0.5)


def orthogonal_edge(d: int = 784) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    layer = torch.nn.Linear(d, d, bias=False)
    layer.weight.data.copy_(q)
    return torch.nn.Sequential(torch.nn.Flatten(), layer).requires_grad_(False)


def test_white_box_inverts_an_invertible_linear_edge(digits):
    _, x_test = digits
    edge = orthogonal_edge()
    x = x_test[:16]
    attack = attacks.WhiteBoxOptimizationAttack(edge, (1, 28, 28), steps=300, lr=0.05, tv_weight=0.0, device="cpu")
    x_hat = attack.fit().reconstruct(edge(x))
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    assert ((x_hat - x) ** 2).mean().item() < 1e-3
    # each image's result is independent of its batch, and the attack is deterministic
    alone = attack.reconstruct(edge(x[:3]))
    assert torch.allclose(alone, x_hat[:3], atol=1e-6)


def test_hybrid_starts_from_the_decoder_and_does_not_get_worse(digits):
    x_aux, x_test = digits
    edge = orthogonal_edge()
    decoder = InverseNetworkAttack((784,), (1, 28, 28), width=8, epochs=1, device="cpu")
    white_box = attacks.WhiteBoxOptimizationAttack(edge, (1, 28, 28), steps=50, tv_weight=0.0, device="cpu")
    hybrid = attacks.HybridAttack(decoder, white_box).fit(x_aux, edge(x_aux))
    z = edge(x_test[:16])
    start, refined = decoder.reconstruct(z), hybrid.reconstruct(z)
    error = lambda x_hat: ((x_hat - x_test[:16]) ** 2).mean().item()  # noqa: E731
    assert error(refined) < error(start) / 2


def test_query_free_attack_never_queries_the_edge(digits):
    from helpers.models import build_model, split

    x_aux, x_test = digits
    model = build_model("vgg", width=4).eval()
    edge, cloud = split(model, "pool1")
    for p in edge.parameters():
        p.register_hook(lambda grad: (_ for _ in ()).throw(AssertionError("edge used")))
    labels = torch.arange(len(x_aux)) % 10
    cloud_before = [p.clone() for p in cloud.parameters()]
    attack = attacks.QueryFreeShadowAttack(cloud, lambda: split(build_model("vgg", width=4), "pool1")[0],
                                           (1, 28, 28), (4, 14, 14), shadow_epochs=1, decoder_epochs=1,
                                           device="cpu").fit(x_aux, None, labels)
    assert attack.shadow is not edge
    assert all(torch.equal(a, b) for a, b in zip(cloud_before, cloud.parameters()))  # cloud stays frozen
    assert attack.reconstruct(edge(x_test[:4]).detach()).shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="labels"):
        attack.fit(x_aux)


def test_attacks_leave_the_deployed_model_as_it_was(digits):
    """White box and shadow training run on channels_last copies: the deployed edge and cloud keep
    their memory layout, training mode and requires_grad flags, so features computed after an
    attack are bitwise those computed before it."""
    from helpers.models import build_model, split

    x_aux, x_test = digits
    edge, cloud = split(build_model("vgg", width=4).train(), "pool1")
    layout = lambda m: [p.is_contiguous() for p in m.parameters()]  # noqa: E731
    before = {"edge": (layout(edge), edge.training), "cloud": (layout(cloud), cloud.training,
                                                              [p.requires_grad for p in cloud.parameters()])}
    z_before = edge.eval()(x_test[:8]).detach()
    edge.train()
    attacks.WhiteBoxOptimizationAttack(edge, (1, 28, 28), steps=2, device="cpu").reconstruct(z_before)
    attacks.QueryFreeShadowAttack(cloud, lambda: split(build_model("vgg", width=4), "pool1")[0], (1, 28, 28),
                                  (4, 14, 14), shadow_epochs=1, decoder_epochs=1, device="cpu").fit(
        x_aux[:64], None, torch.arange(64) % 10)
    assert (layout(edge), edge.training) == before["edge"]
    assert (layout(cloud), cloud.training, [p.requires_grad for p in cloud.parameters()]) == before["cloud"]
    assert all(p.requires_grad for p in cloud.parameters())
    assert torch.equal(edge.eval()(x_test[:8]), z_before)


def test_evaluate_builds_a_tidy_table(digits):
    _, x_test = digits
    x = x_test[:5]
    table = scoring.evaluate({"perfect": x.clone(), "blank": torch.zeros_like(x)}, x,
                             y_eval=torch.zeros(5, dtype=torch.long), classify=lambda images: torch.zeros(5, dtype=torch.long),
                             seconds={"perfect": {"fit": 1.0}}, cut="pool1", seed=0)
    assert len(table) == 10 and set(table.attack) == {"perfect", "blank"}
    perfect = table[table.attack == "perfect"]
    assert (perfect.mse == 0).all() and (perfect.ssim > 0.999).all() and (perfect.recon_correct == 1).all()
    blank = table[table.attack == "blank"]
    assert torch.allclose(torch.tensor(blank.mse.to_numpy()), x.pow(2).flatten(1).mean(1).double())
    assert (table.cut == "pool1").all() and perfect.seconds_fit.iloc[0] == 1.0
    with pytest.raises(ValueError, match="reconstruction shape"):
        scoring.evaluate({"bad": x[:, :, :10]}, x)
