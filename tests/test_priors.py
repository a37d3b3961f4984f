"""The attacker's learned prior (helpers.attacks.priors) and the two prior-based attacks (helpers.attacks.prior_attacks).

Priors train on 400 real mnist5k digits downsampled to 14×14 (seconds); the run_suite test keeps
one 28×28 case. Every reconstruction is compared with the mean auxiliary image: the best
reconstruction that uses no feature value. Any reconstruction that ignores z has an expected MSE of
at least the mean image's, up to how far the aux mean lies from the scored images' own mean (about
var/32 for 32 images: ~3% of the mean image's MSE). Beating it by a factor of 2 (or 10) therefore
cannot happen by luck; it needs the features.
"""
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core import paths
from helpers.attacks import priors
from helpers.data import Split, load_dataset, split_dataset
from helpers.attacks.prior_attacks import DiffusionGuidedAttack, LatentSearchAttack, polyak_step
from helpers.attacks.priors import (DDPM, ConvVAE, PriorConfig, TrainedPrior, cosine_betas, train_ddpm, train_vae,
                            trained_prior)

# pytest-xdist (make test): the priors are trained once for the module
pytestmark = pytest.mark.xdist_group("priors")

SHAPE = (1, 14, 14)
VAE = PriorConfig("vae", latent_dim=8, width=8, epochs=40, lr=3e-3, batch_size=32)
DIFFUSION = PriorConfig("ddpm", width=8, epochs=10, lr=3e-3, batch_size=32, T=20)


@pytest.fixture(scope="module")
def digits():
    """(auxiliary split, 32 scored images): real digits, 14×14, disjoint."""
    s = split_dataset(load_dataset("mnist5k"), 100, 200, 400, seed=0)
    small = lambda x: F.avg_pool2d(x, 2)  # noqa: E731
    return Split(small(s.aux.x), s.aux.y, s.aux.index), small(s.test.x[:32])


@pytest.fixture(scope="module")
def trained(digits):
    """Both priors trained directly (module scope runs outside the per-test cache folder)."""
    aux, _ = digits
    made = {}
    for config, train in ((VAE, train_vae), (DIFFUSION, train_ddpm)):
        model = train(aux.x, config, device="cpu").requires_grad_(False)
        made[config.kind] = TrainedPrior(config, model, aux.index.tolist(), model.history, 0.0)
    return made


def fitted(attack, trained):
    attack.prior = trained[attack.kind]
    return attack


def mse(a, b) -> float:
    return ((a - b) ** 2).mean().item()


def edges() -> dict:
    """An identity and a fixed random 3×3 conv to 4 channels (injective, not orthogonal)."""
    conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
    conv.weight.data = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    return {"identity": nn.Identity(), "conv": conv.requires_grad_(False)}


def constant_edge() -> nn.Module:
    """Features independent of the image (zero weights), yet differentiable: the gradient is 0."""
    layer = nn.Linear(SHAPE[1] * SHAPE[2], 8)
    layer.weight.data.zero_()
    layer.bias.data.fill_(1.0)
    return nn.Sequential(nn.Flatten(), layer).requires_grad_(False)


def test_latent_search_reconstructs_through_invertible_edges(digits, trained):
    aux, x = digits
    blind = mse(aux.x.mean(0, keepdim=True), x)  # about 0.05
    for name, edge in edges().items():
        attack = fitted(LatentSearchAttack(edge, SHAPE, VAE, steps=100, lr=0.1, device="cpu"), trained)
        x_hat = attack.reconstruct(edge(x))
        print(f"latent search, {name} edge: MSE {mse(x_hat, x):.4f} vs mean image {blind:.4f}")
        # measured 0.34× the mean image's MSE on both edges; the VAE's blur (latent 8) is the floor
        assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
        assert mse(x_hat, x) < blind / 2
    # each image's result is independent of its batch (per-image losses, Adam per coordinate)
    assert torch.allclose(attack.reconstruct(edge(x[:3])), x_hat[:3], atol=1e-5)


def test_latent_search_starts_at_zero_or_at_the_encoder_mean_of_init(digits, trained):
    aux, x = digits
    vae = trained["vae"].model
    edge = nn.Identity()
    attack = fitted(LatentSearchAttack(edge, SHAPE, VAE, steps=1, lr=1e-6, device="cpu"), trained)
    with torch.no_grad():
        assert torch.allclose(attack.reconstruct(x[:4]), vae.decode(torch.zeros(4, VAE.latent_dim)), atol=1e-4)
        assert torch.allclose(attack.reconstruct(x[:4], init=x[:4]), vae.decode(vae.encode(x[:4])[0]), atol=1e-4)


def test_diffusion_attack_reconstructs_through_invertible_edges(digits, trained):
    aux, x = digits
    blind = mse(aux.x.mean(0, keepdim=True), x)
    for name, edge in edges().items():
        attack = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, guidance=1.0, device="cpu"), trained)
        x_hat = attack.reconstruct(edge(x))
        print(f"diffusion, {name} edge: MSE {mse(x_hat, x):.5f} vs mean image {blind:.4f}")
        # measured 0.3% (identity) and 1.1% (conv) of the mean image's MSE: a factor 10 leaves room
        assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
        assert mse(x_hat, x) < blind / 10
        assert torch.equal(attack.reconstruct(edge(x)), x_hat)  # seeded: repeatable


def test_diffusion_hybrid_starts_from_the_noised_init(digits, trained):
    """Without guidance, a start at 10% of T (2 of 20 steps) stays near the init images; a start at
    T (start_fraction 1) is a fresh prior sample that knows nothing of them."""
    aux, x = digits
    blind = mse(aux.x.mean(0, keepdim=True), x)
    edge = constant_edge()
    near = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, guidance=0.0, start_fraction=0.1,
                                        device="cpu"), trained)
    far = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, guidance=0.0, start_fraction=1.0,
                                       device="cpu"), trained)
    assert near.t_start == 2 and far.t_start == 20
    assert mse(near.reconstruct(edge(x), init=x), x) < blind / 4
    assert mse(far.reconstruct(edge(x), init=x), x) > 0.9 * blind


def test_constant_edge_yields_prior_samples_not_the_originals(digits, trained):
    """Features that do not depend on x leave only the prior: no better than the mean image (10%
    tolerance: > 3× the ~3% the aux mean may lie from the 32 images' own mean), and the
    reconstruction of image i is no closer to x_i than to the other images."""
    aux, x = digits
    blind = mse(aux.x.mean(0, keepdim=True), x)
    edge = constant_edge()
    z = edge(x)
    latent = fitted(LatentSearchAttack(edge, SHAPE, VAE, steps=100, lr=0.1, device="cpu"), trained)
    x_latent = latent.reconstruct(z)
    with torch.no_grad():  # no feature gradient and w = 0 minimises the prior term: G(0) for every image
        assert torch.equal(x_latent, trained["vae"].model.decode(torch.zeros(len(x), VAE.latent_dim)).clamp(0, 1))
    x_diffusion = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, device="cpu"), trained).reconstruct(z)
    for name, x_hat in (("latent search", x_latent), ("diffusion", x_diffusion)):
        pairwise = ((x_hat[:, None] - x[None]) ** 2).flatten(2).mean(2)  # [i, j]: x̂_i against x_j
        own = pairwise.diag().mean()
        others = (pairwise.sum() - pairwise.diag().sum()) / (len(x) * (len(x) - 1))
        print(f"{name}, constant edge: MSE {mse(x_hat, x):.4f} vs mean image {blind:.4f}, "
              f"own/others {own / others:.3f}")
        # measured 1.07× (latent) and 2.9× (diffusion) the mean image's MSE; own/others 1.00 and 0.96
        # (tailored reconstructions on the identity edge: 0.22 and 0.01)
        assert mse(x_hat, x) >= 0.9 * blind
        assert own >= 0.85 * others


def test_the_prior_sees_only_the_auxiliary_split_and_a_second_run_computes_nothing(monkeypatch):
    """Through run_suite at 28×28: the stored priors were trained on exactly the attacker's auxiliary
    images, none of them scored, selection or target-train; a warm run trains and reconstructs nothing."""
    from helpers.attacks import prior_attacks
    from helpers.evaluation.harness import ATTACKS, PRIOR_ATTACKS, AttackerKnowledge, SuiteBudget, attacker_data, run_suite
    from helpers.training import TrainConfig, held_out, train_classifier

    assert not set(PRIOR_ATTACKS) & set(ATTACKS)  # opt-in only
    config = TrainConfig(n_train=512, n_test=128, n_aux=128, n_val=64, epochs=1, batch_size=32, lr=3e-3, width=4)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    classifier = train_classifier(config, splits, device="cpu")
    selection = held_out(splits, config.n_val)
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, n_eval=8, n_eval_optimisation=3, latent_steps=3,
                         vae=PriorConfig("vae", latent_dim=4, width=8, epochs=1),
                         ddpm=PriorConfig("ddpm", width=8, epochs=1, T=4))
    run = lambda: run_suite(classifier, splits, "pool1", budget=budget, attacks=list(PRIOR_ATTACKS),  # noqa: E731
                            device="cpu", selection=selection)
    table, recon, evaluation = run()
    assert table.groupby(["attack", "images"]).size().to_dict() == {
        (name, images): 3 for name in PRIOR_ATTACKS for images in ("selection", "test")}
    assert all(x_hat.shape == evaluation.x[:3].shape for x_hat in recon.values())
    aux, _ = attacker_data(splits, AttackerKnowledge(), budget.n_eval)
    stored = [torch.load(p, weights_only=True) for p in sorted((paths.cache_dir() / "prior").glob("*.pt"))]
    assert len(stored) == 2  # one VAE, one DDPM
    for payload in stored:
        assert payload["aux_index"] == aux.index.tolist() == splits.aux.index.tolist()
        seen = set(payload["aux_index"])
        for other in (splits.test.index, splits.train.index, selection.index):
            assert not seen & set(other.tolist())

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    for name in ("train_vae", "train_ddpm"):
        monkeypatch.setattr(priors, name, fail)
    for cls in (prior_attacks.LatentSearchAttack, prior_attacks.DiffusionGuidedAttack):
        monkeypatch.setattr(cls, "reconstruct", fail)
    again, recon2, _ = run()
    assert all(torch.equal(recon[name], recon2[name]) for name in PRIOR_ATTACKS)
    assert again.mse.equals(table.mse)


def test_training_is_seeded_and_the_prior_cache_is_keyed_by_images_and_indices(digits, monkeypatch):
    aux, _ = digits
    small = Split(aux.x[:64], aux.y[:64], aux.index[:64])
    config = PriorConfig("vae", latent_dim=4, width=8, epochs=2, batch_size=32)
    first, second = (train_vae(small.x, config, device="cpu") for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    other_seed = train_vae(small.x, config, seed=1, device="cpu")
    assert not torch.equal(first.decoder[0].weight, other_seed.decoder[0].weight)
    ddpm_config = PriorConfig("ddpm", width=8, epochs=1, T=5)
    samples = [train_ddpm(small.x, ddpm_config, device="cpu").sample(3, torch.Generator().manual_seed(0))
               for _ in range(2)]
    assert torch.equal(*samples) and samples[0].shape == (3, *SHAPE)

    stored = trained_prior(config, small, device="cpu")
    assert stored.aux_index == small.index.tolist() and stored.seconds > 0
    assert all(torch.equal(a, b) for a, b in zip(stored.model.state_dict().values(), first.state_dict().values()))

    def fail(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(priors, "train_vae", fail)
    loaded = trained_prior(config, small, device="cpu")
    assert loaded.aux_index == stored.aux_index and loaded.seconds == stored.seconds
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.state_dict().values(), first.state_dict().values()))
    # the same pixels under other dataset indices, or other pixels: never the stored prior
    for other in (Split(small.x, small.y, small.index + 10_000), Split(aux.x[64:128], aux.y[64:128], small.index)):
        with pytest.raises(AssertionError, match="trained again"):
            trained_prior(config, other, device="cpu")
    with pytest.raises(AssertionError, match="trained again"):
        trained_prior(dataclasses.replace(config, seed=1), small, device="cpu")


def test_ddpm_schedule_and_x0_helpers_by_hand():
    betas = cosine_betas(20)
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert (betas > 0).all() and betas.max() <= 0.999 and (alpha_bar[1:] < alpha_bar[:-1]).all()
    assert alpha_bar[0] > 0.99 and alpha_bar[-1] < 1e-3  # from almost clean to almost pure noise
    ddpm = DDPM(SHAPE, width=8, T=20)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(4, *SHAPE, generator=g) * 2 - 1, torch.randn(4, *SHAPE, generator=g)
    for t in (0, 7, 19):
        x_t = ddpm.q_sample(x0, torch.full((4,), t), eps)
        assert torch.allclose(ddpm.predict_x0(x_t, t, eps), x0, atol=1e-3 if t == 19 else 1e-5)
    # at t = 0 the posterior mean is x0 itself (ᾱ_{-1} = 1) and no noise is added
    assert torch.allclose(ddpm.posterior_step(x0, torch.zeros_like(x0), 0, g), x0, atol=1e-6)
    # Polyak's step zeroes a quadratic's linearisation: L = ||x||², ∇ = 2x, step = x/2
    x = torch.randn(3, 1, 2, 2, generator=g) * 0.1
    assert torch.allclose(polyak_step(x.pow(2).flatten(1).sum(1), 2 * x), x / 2)


def test_a_respaced_reverse_pass_visits_fewer_steps_on_the_same_schedule(digits, trained):
    """``steps`` keeps both ends of the range, evenly spaced; a jump of one step is the one-step
    posterior itself (so every step, or as many steps as there are, is bitwise the full pass); a
    jump over several uses β = 1 − ᾱ_t/ᾱ_s, whose posterior mean is again exact for a known x0:
    x_t built from x0 and its noise, then stepped to s = -1 (the clean image), returns x0."""
    from helpers.attacks.priors import respaced

    assert respaced(5) == [4, 3, 2, 1, 0] and respaced(5, 9) == respaced(5)
    assert respaced(75, 25)[0] == 74 and respaced(75, 25)[-1] == 0 and len(respaced(75, 25)) == 25
    assert respaced(10, 4) == [9, 6, 3, 0]
    with pytest.raises(ValueError, match="at least 2"):
        respaced(10, 1)
    ddpm = trained["ddpm"].model
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(4, *SHAPE, generator=g) * 2 - 1, torch.randn(4, *SHAPE, generator=g)
    x_t = ddpm.q_sample(x0, torch.full((4,), 12), eps)
    assert torch.allclose(ddpm.posterior_step(x0, x_t, 12, g, to=-1), x0, atol=1e-5)
    one = ddpm.posterior_step(x0, x_t, 12, torch.Generator().manual_seed(1))
    assert torch.equal(one, ddpm.posterior_step(x0, x_t, 12, torch.Generator().manual_seed(1), to=11))
    with pytest.raises(ValueError, match="earlier step"):
        ddpm.posterior_step(x0, x_t, 12, g, to=12)
    aux, x = digits
    edge = edges()["conv"]
    full = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, start_fraction=0.75, device="cpu"), trained)
    same = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, start_fraction=0.75, device="cpu",
                                        steps=full.t_start), trained)
    short = fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, start_fraction=0.75, device="cpu", steps=5), trained)
    init = aux.x[:8].mean(0, keepdim=True).expand(len(x), *SHAPE)   # a blind start: the mean image
    assert torch.equal(same.reconstruct(edge(x), init=init), full.reconstruct(edge(x), init=init))
    assert "steps" not in full.config() and short.config()["steps"] == 5, "every step keeps the key it had"
    blind = mse(aux.x.mean(0, keepdim=True), x)
    assert mse(short.reconstruct(edge(x), init=init), x) < blind / 4, "5 guided steps still use the features"


def test_networks_handle_every_input_shape():
    for shape in ((1, 28, 28), (3, 32, 32), (3, 64, 64), SHAPE):
        x = torch.rand(2, *shape)  # a shape check, not a dataset
        vae = ConvVAE(shape, latent_dim=4, width=8)
        mu, logvar = vae.encode(x)
        assert mu.shape == logvar.shape == (2, 4) and vae.decode(mu).shape == x.shape
        assert DDPM(shape, width=8, T=5).eps(x, 3).shape == x.shape


def test_bad_configurations_raise_before_any_training(digits, trained, monkeypatch):
    from helpers.evaluation.harness import SuiteBudget

    aux, x = digits
    monkeypatch.setattr(priors, "_fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    for bad in (dict(kind="gan"), dict(epochs=0), dict(lr=0.0), dict(width=1.5), dict(seed=-1),
                dict(kind="ddpm", T=1), dict(kl_weight=-1.0), dict(batch_size=0)):
        with pytest.raises(ValueError):
            PriorConfig(**bad)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        trained_prior(VAE, Split(aux.x * 255, aux.y, aux.index), device="cpu")
    with pytest.raises(ValueError, match="indices"):
        trained_prior(VAE, Split(aux.x, aux.y, aux.index[:10]), device="cpu")
    with pytest.raises(ValueError, match="square"):
        trained_prior(VAE, Split(aux.x[..., :10], aux.y, aux.index), device="cpu")
    with pytest.raises(ValueError, match="kind 'ddpm'"):
        train_ddpm(aux.x, VAE, device="cpu")
    edge = nn.Identity()
    with pytest.raises(ValueError, match="kind 'vae'"):
        LatentSearchAttack(edge, SHAPE, DIFFUSION)
    with pytest.raises(ValueError, match="kind 'ddpm'"):
        DiffusionGuidedAttack(edge, SHAPE, VAE)
    for bad in (dict(steps=0), dict(lr=-1.0), dict(prior_weight=-1.0), dict(batch_size=0)):
        with pytest.raises(ValueError):
            LatentSearchAttack(edge, SHAPE, VAE, **bad)
    for bad in (dict(guidance=-0.1), dict(guidance=2.5), dict(start_fraction=0.0), dict(seed=-1)):
        with pytest.raises(ValueError):
            DiffusionGuidedAttack(edge, SHAPE, DIFFUSION, **bad)
    with pytest.raises(ValueError, match="fit"):
        LatentSearchAttack(edge, SHAPE, VAE).reconstruct(x)
    with pytest.raises(ValueError, match="shape"):
        LatentSearchAttack(edge, SHAPE, VAE).fit(F.pad(aux.x, (1, 1, 1, 1)))
    with pytest.raises(ValueError, match="init must have shape"):
        fitted(DiffusionGuidedAttack(edge, SHAPE, DIFFUSION), trained).reconstruct(x, init=x[:3])
    for bad in (dict(vae=DIFFUSION), dict(ddpm=VAE), dict(guidance=3.0), dict(latent_steps=0),
                dict(diffusion_start=1.5), dict(latent_lr=0.0)):
        with pytest.raises(ValueError):
            SuiteBudget(**bad)


def test_scales_pick_prior_budgets():
    from helpers.core.config import get_scale
    from helpers.evaluation.harness import SuiteBudget

    smoke, quick, paper = (PriorConfig.from_scale(get_scale(s), "ddpm") for s in ("smoke", "quick", "paper"))
    assert smoke.T < quick.T < paper.T and smoke.epochs < quick.epochs < paper.epochs
    assert PriorConfig.from_scale(get_scale("quick"), "vae", epochs=3).epochs == 3
    budget = SuiteBudget.from_scale(get_scale("quick"))
    assert budget.vae == PriorConfig.from_scale(get_scale("quick"), "vae") and budget.ddpm == quick
    # a VAE's cache key ignores T, a DDPM's the latent size
    assert "T" not in budget.vae.cache_fields() and "latent_dim" not in budget.ddpm.cache_fields()
