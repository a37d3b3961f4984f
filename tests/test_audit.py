"""The audit of a user's model (helpers/audit): its rule on hand-made tables, its run at smoke for a
torchvision ResNet-18 and a user's nn.Sequential, a checkpoint, and the command's errors."""
import math
import sys
import textwrap

import pandas as pd
import pytest
import torch

from helpers.audit import AuditPlan, agreement, recommend_cut, run_audit, summary_text, write_report
from helpers.audit.__main__ import main

USER_MODULE = """
    from torch import nn

    def small(num_classes=10):
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(8 * 7 * 7, 32), nn.ReLU(), nn.Linear(32, num_classes))
"""


@pytest.fixture
def user_module(users_module):
    return users_module("audited_models", USER_MODULE)


def _table(worst, flops=(1.0, 5.0, 20.0, 40.0)):
    return pd.DataFrame({"cut": ["a", "b", "c", "d"], "edge_MFLOPs": list(flops), "worst_mse": list(worst),
                         "class_mean_mse": [0.10] * 4})


def test_the_shallowest_cut_whose_worst_case_reaches_the_class_mean_is_recommended():
    chosen = recommend_cut(_table([0.01, 0.05, 0.10, 0.30]))
    assert chosen.cut == "c", "0.10 reaches the reference 0.10; b (0.05) does not"
    assert chosen.closest == "d" and chosen.within_budget == ["a", "b", "c", "d"]
    assert "c: the shallowest cut whose worst-case attack MSE (0.1) reaches the class-mean reference's (0.1)" \
        in chosen.text


def test_the_edge_budget_leaves_out_the_costlier_cuts():
    over = recommend_cut(_table([0.01, 0.05, 0.10, 0.30]), max_edge_mflops=10)
    assert over.cut is None and over.closest == "b" and over.within_budget == ["a", "b"]
    assert "no cut within 10 MFLOPs is private by this rule: the closest, b, is reconstructed with 0.50×" in over.text
    assert recommend_cut(_table([0.01, 0.20, 0.10, 0.30]), max_edge_mflops=10).cut == "b"
    none = recommend_cut(_table([0.01, 0.2, 0.1, 0.3]), max_edge_mflops=0.5)
    assert none.cut is None and none.within_budget == [] and "the cheapest, a, costs 1 MFLOPs" in none.text


def test_the_rule_refuses_a_table_without_its_columns_and_a_bad_budget():
    with pytest.raises(ValueError, match=r"lacks columns \['worst_mse'\]"):
        recommend_cut(_table([0.1] * 4).drop(columns="worst_mse"))
    with pytest.raises(ValueError, match="max_edge_mflops"):
        recommend_cut(_table([0.1] * 4), max_edge_mflops=-1)


def test_gpz_and_the_attacks_agree_when_the_recommended_cut_is_in_the_zone():
    chosen = recommend_cut(_table([0.01, 0.05, 0.10, 0.30]))
    assert agreement("c", chosen).endswith("they agree.")
    assert agreement("b..c", chosen).endswith("they agree.")
    assert agreement("a", chosen) == "GPZ's rule picks a; the attacks' rule picks c: they disagree."
    assert "cannot confirm" in agreement("a", recommend_cut(_table([0.01] * 4)))
    assert agreement("n/a (the rule needs 3 cuts or more)", chosen).startswith("GPZ's rule was not applied")


@pytest.fixture(scope="module")
def sequential_audit(tmp_path_factory):
    """A user's nn.Sequential audited at smoke on mnist5k (two seeds, both attackers)."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "audited_models.py").write_text(textwrap.dedent(USER_MODULE))
    with pytest.MonkeyPatch.context() as patch:   # module scope: before the per-test isolated cache
        patch.setenv("MIA_CACHE_DIR", str(folder / "cache"))
        patch.syspath_prepend(str(folder))
        yield _audit(folder)
    sys.modules.pop("audited_models", None)


def _audit(folder):
    plan = AuditPlan("audited_models:small", ("5", "2", "8"), "mnist5k", "smoke", (0, 1), ("standard", "strong"))
    result = run_audit(plan)
    recommendation = recommend_cut(result["table"])
    return result, recommendation, write_report(result, recommendation, folder / "report")


def test_an_audit_of_a_user_sequential_reports_every_cut_in_forward_order(sequential_audit):
    result, recommendation, paths = sequential_audit
    table = result["table"]
    assert list(table.cut) == ["2", "5", "8"] and list(table.seeds) == [2, 2, 2]
    assert (table.edge_MFLOPs.diff().dropna() > 0).all(), "deeper cuts cost more"
    assert table.worst_mse.equals(table[["mse_standard", "mse_strong"]].min(axis=1))
    assert math.isclose(table.worst_vs_shallowest[2], table.worst_mse[2] / table.worst_mse[0])
    assert (table.mse_strong <= table.mse_standard + 1e-12).all(), "the strong attacker includes the standard one"
    assert (table.mse_strong_low <= table.mse_strong).all() and (table.mse_strong <= table.mse_strong_high).all()
    per_seed = result["per_seed"]
    assert sorted(per_seed.seed.unique()) == [0, 1] and len(per_seed) == 6
    assert math.isclose(table.set_index("cut").radius["5"], per_seed[per_seed.cut == "5"].radius.mean())
    assert result["gpz"] in {"2", "5", "8", "2..5", "2..8", "5..8"}
    for path in paths.values():
        assert path.stat().st_size > 0
    assert pd.read_csv(paths["audit.csv"]).cut.astype(str).tolist() == ["2", "5", "8"]
    text = paths["audit.md"].read_text()
    assert text == summary_text(result, recommendation) and recommendation.text in text
    assert f"| 5 | {table.edge_MFLOPs[1]:.3g} |" in text, "the summary's numbers are the table's"


def test_an_audit_of_a_torchvision_resnet18_runs_at_smoke(tmp_path):
    plan = AuditPlan("torchvision:resnet18", ("layer2", "layer1"), "mnist5k", "smoke", (0,), ("standard",))
    result = run_audit(plan)
    table = result["table"]
    assert list(table.cut) == ["layer1", "layer2"] and table.mse_strong.isna().all()
    assert result["gpz"].startswith("n/a"), "two cuts: GPZ's rule needs three"
    assert (table.worst_mse > 0).all() and table.accuracy.nunique() == 1
    paths = write_report(result, recommend_cut(table), tmp_path / "resnet")
    assert paths["audit.png"].read_bytes()[:4] == b"\x89PNG"


def test_a_checkpoint_is_audited_with_its_own_weights(user_module, tmp_path):
    from helpers.audit.checkpoint import load_checkpoint
    from helpers.data import load_dataset, split_dataset
    from helpers.models import load_network

    torch.manual_seed(3)
    network = load_network(f"{user_module}:small", 10)
    torch.save(network.state_dict(), tmp_path / "weights.pt")
    plan = AuditPlan(f"{user_module}:small", ("5",), "mnist5k", "smoke", (0,), ("standard",),
                     checkpoint=str(tmp_path / "weights.pt"))
    data = load_dataset("mnist5k")
    config = plan.config(data, 0)
    splits = split_dataset(data, **config.split_kwargs())
    trained = load_checkpoint(tmp_path / "weights.pt", config, splits)
    with torch.no_grad():
        expected = (network.eval()(splits.test.x).argmax(1) == splits.test.y).double().mean().item()
    assert trained.test_accuracy == expected and len(trained.cache_key["checkpoint"]) == 16
    torch.save({"0.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match=r"checkpoint .*wrong.pt' does not fit"):
        load_checkpoint(tmp_path / "wrong.pt", config, splits)
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.pt", config, splits)


@pytest.mark.parametrize("argv, message", [
    (["--cuts", "layer9"], r"unknown cut 'layer9'; valid cut names of this model: conv1, bn1"),
    (["--cuts", "fc"], r"cut 'fc' is at or after the model's classifier head"),
    (["--cuts", "layer1,layer1"], r"parameter cuts = \['layer1', 'layer1'\]: list each once"),
    (["--cuts", "layer1", "--attackers", "weak"], r"parameter attackers\[0\] = .*'weak'"),
    (["--cuts", "layer1", "--scale", "huge"], r"parameter scale = 'huge'"),
    (["--cuts", "layer1", "--dataset", "imagenet"], r"parameter dataset = 'imagenet': not a known dataset"),
    (["--cuts", "layer1", "--max-edge-mflops", "-3"], r"parameter max_edge_mflops = -3.0"),
])
def test_the_command_refuses_bad_input_before_any_training(argv, message, capsys):
    assert main(["--model", "torchvision:resnet18", "--dataset", "mnist5k", *argv]) == 2
    import re
    assert re.search(message, capsys.readouterr().err), message


def test_the_command_names_an_unknown_model(capsys):
    assert main(["--model", "torchvision:resnet1800", "--cuts", "layer1", "--dataset", "mnist5k"]) == 2
    assert "unknown torchvision classification model 'resnet1800'" in capsys.readouterr().err


# ---------------------------------------------------------------- your own defense (book/examples)

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "book" / "examples"


@pytest.fixture
def kbit(monkeypatch):
    """The book's worked example, imported the way a user's module is: by its name on the path."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield "kbit_defense:KBitQuantisation"
    sys.modules.pop("kbit_defense", None)


def test_the_books_quantisation_defense_rounds_to_two_to_the_k_levels_and_passes_gradients(kbit):
    from helpers.defenses import from_config

    defense = from_config({"defense": kbit, "bits": 2, "clip": 3.0})
    assert defense.config() == {"defense": "kbit", "bits": 2, "clip": 3.0, "version": 1}
    assert from_config(defense.config()).params() == defense.params(), "registered: its config rebuilds it"
    z = torch.tensor([-1.0, 0.4, 0.6, 1.4, 2.6, 9.0], requires_grad=True)
    observed = defense.observe(z)
    assert observed.tolist() == [0.0, 0.0, 1.0, 1.0, 3.0, 3.0], "levels 0, 1, 2, 3 of a 3.0 range"
    observed.sum().backward()
    assert z.grad.tolist() == [1.0] * 6, "the straight-through gradient"
    assert not defense.observes_unchanged


def test_a_registered_defense_gets_its_row_in_notebook_07s_ranking(kbit):
    from helpers.data import load_dataset, split_dataset
    from helpers.evaluation.defense_eval import defense_grid, evaluate_all
    from helpers.evaluation.harness import SuiteBudget
    from helpers.evaluation.ranking import ranked_table
    from helpers.defenses import Defense
    from helpers.training import TrainConfig

    data = load_dataset("mnist5k")
    base = TrainConfig(n_train=400, n_test=64, n_aux=128, n_val=64, epochs=1)
    splits = split_dataset(data, **base.split_kwargs())
    grid = [Defense()] + defense_grid({kbit: [{"bits": 1}], "noise": [{"sigma": 0.5}]})
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, decoder_width=8, n_eval=32, white_box_steps=2,
                         hybrid_steps=2, shadow_epochs=1, n_eval_optimisation=8)
    results, _ = evaluate_all(base, splits, grid, "pool2", budget, probes=False, device="cpu")
    ranking = ranked_table(results, "none @ pool2", 0.03, budget_on="val_accuracy")
    row = ranking.set_index("label").loc["kbit bits=1"]
    assert row.defense == "kbit" and row.mse_best > 0 and row.edge_MFLOPs == ranking.edge_MFLOPs.iloc[0]
    assert set(ranking.label) == {"none @ pool2", "kbit bits=1", "noise sigma=0.5"}


@pytest.mark.parametrize("spec, message", [
    ("kbit_defense:Missing", r"cannot import 'Missing' from 'kbit_defense'"),
    ("kbit_defense:torch", r"lacks the defense interface: subclass helpers.defenses.Defense"),
    ("no_such_module_xyz:Thing", r"cannot import 'Thing' from 'no_such_module_xyz'"),
])
def test_a_defense_that_cannot_be_used_is_refused_by_name(spec, message, kbit):
    from helpers.defenses import from_config

    with pytest.raises(ValueError, match=message):
        from_config({"defense": spec})


def test_notebook_07_takes_extra_defenses_beside_its_grid(kbit):
    from helpers.pipeline.parameters import validate

    checked = validate("07", {"extra_defenses": {kbit: [{"bits": 2}]}})
    assert checked.extra_defenses == {kbit: [{"bits": 2}]} and checked.defenses == {}


def test_without_validation_attacks_the_test_rows_are_the_same_and_nothing_is_chosen():
    """Where nothing is chosen on validation images their reconstructions are skipped (the audit:
    "none"; notebook 07 §6: "listed", the strong attacker's added attacks): the scored rows are
    those of a run that made them all, and val_mse_best is NaN unless it is the worst case of every
    attack in mse_best."""
    from helpers.attacks.priors import PriorConfig
    from helpers.data import load_dataset, split_dataset
    from helpers.evaluation.defense_eval import evaluate_defense
    from helpers.evaluation.harness import SuiteBudget
    from helpers.training import TrainConfig, train_classifier

    config = TrainConfig(n_train=300, n_test=64, n_aux=96, n_val=32, epochs=1)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, decoder_width=8, n_eval=16, white_box_steps=2,
                         hybrid_steps=2, shadow_epochs=1, latent_steps=2,
                         vae=PriorConfig("vae", latent_dim=4, width=8, epochs=1),
                         ddpm=PriorConfig("ddpm", width=8, epochs=1, T=4))
    listed = ["inverse_network", "white_box"]

    def evaluated(on_validation, attacker):
        row, table, _, _ = evaluate_defense(trained, splits, "pool1", budget, listed, probes=False, device="cpu",
                                            attacker=attacker, on_validation=on_validation)
        return row, table.sort_values(["attack", "image"]).reset_index(drop=True)

    standard = {flag: evaluated(flag, "standard") for flag in ("all", "listed", "none")}
    assert math.isnan(standard["none"][0]["val_mse_best"]) and standard["all"][0]["val_mse_best"] > 0
    assert standard["listed"][0]["val_mse_best"] == standard["all"][0]["val_mse_best"], "every attack is listed"
    for flag in ("listed", "none"):
        assert standard[flag][1].mse.tolist() == standard["all"][1].mse.tolist()
        assert standard[flag][0]["mse_best"] == standard["all"][0]["mse_best"]
    strong = {flag: evaluated(flag, "strong") for flag in ("all", "listed")}
    assert set(strong["all"][1].attack) == set(strong["listed"][1].attack) > set(listed)
    assert strong["listed"][1].mse.tolist() == strong["all"][1].mse.tolist(), "the same scored rows"
    assert strong["listed"][0]["tuning"] == strong["all"][0]["tuning"]
    assert math.isnan(strong["listed"][0]["val_mse_best"]) and strong["all"][0]["val_mse_best"] > 0
    with pytest.raises(ValueError, match="on_validation"):
        evaluate_defense(trained, splits, "pool1", budget, listed, probes=False, device="cpu", on_validation=True)


def test_each_attackers_privacy_ratio_is_its_worst_mse_over_the_class_means():
    from helpers.audit import summarise

    per_seed = pd.DataFrame({"seed": [0, 1], "cut": ["a", "a"], "payload": [8, 8], "edge_params": [5, 5],
                             "edge_MFLOPs": [1.0, 1.0], "mse_standard": [0.04, 0.06], "mse_strong": [0.02, 0.04],
                             "ssim_worst": [0.5, 0.7], "leakage": [0.9, 0.8], "class_mean_mse": [0.1, 0.1],
                             "radius": [3.0, 5.0], "radius_ratio": [0.3, 0.5], "accuracy": [0.9, 0.9]})
    row = summarise(per_seed, ["a"]).iloc[0]
    assert row.worst_vs_shallowest == 1.0, "the shallowest cut against itself"
    assert math.isclose(row.mse_standard, 0.05) and math.isclose(row.privacy_standard, 0.5)
    assert math.isclose(row.worst_mse, 0.03) and math.isclose(row.privacy, 0.3) and row.privacy == row.privacy_strong
    low, high = row.mse_strong_low, row.mse_strong_high   # t-interval of two values: mean ± 12.706·s/√2
    assert math.isclose(high - 0.03, 12.7062 * 0.01414214 / math.sqrt(2), rel_tol=1e-4) and math.isclose(low + high, 0.06)


def test_a_defense_with_its_own_cut_is_trained_and_attacked_there():
    """Notebook 07's PATROL: a deeper edge (pool3) pruned to the FLOPs of the others' cut (pool2)."""
    from helpers.data import load_dataset, split_dataset
    from helpers.defenses import Defense, Patrol
    from helpers.evaluation.defense_eval import evaluate_all, label
    from helpers.evaluation.harness import SuiteBudget
    from helpers.models import build_model, cut_points
    from helpers.training import TrainConfig

    data = load_dataset("mnist5k")
    base = TrainConfig(n_train=400, n_test=64, n_aux=128, n_val=64, epochs=2)
    splits = split_dataset(data, **base.split_kwargs())
    flops = {p.name: p.edge_flops / 1e6 for p in cut_points(build_model("vgg", (1, 28, 28)))}
    patrol = Patrol(budget=flops["pool2"], metric="flops")
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, decoder_width=8, n_eval=32, white_box_steps=2,
                         hybrid_steps=2, shadow_epochs=1, n_eval_optimisation=8)
    with pytest.raises(ValueError, match="own_cuts names defenses that are not in the list"):
        evaluate_all(base, splits, [Defense()], "pool2", budget, own_cuts={label(patrol): "pool3"})
    results, _ = evaluate_all(base, splits, [Defense(), patrol], "pool2", budget, probes=False, device="cpu",
                              attacks=["inverse_network"], own_cuts={label(patrol): "pool3"})
    rows = results.set_index("defense")
    assert rows.loc["none", "cut"] == "pool2" and rows.loc["patrol", "cut"] == "pool3"
    assert rows.loc["patrol", "edge_MFLOPs"] <= flops["pool2"] + 1e-6 < flops["pool3"], "deeper, within the budget"
