"""One typed schema per notebook: every parameter's type, range, choices and the rules between them,
checked before any work (:func:`validate`, called by each notebook's setup cell).

Schemas are pydantic models in strict mode: a string is not a number (``sigma "0.5"``), a bool is
not an int, ``"False"`` is not a bool, NaN and infinity are not numbers, an int is accepted where a
float is asked. Names that become paths or choices are checked against what exists (datasets,
architectures, cut points, attacks). The error names the notebook, each bad parameter, its value
and what is valid.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..attacks.budget import AUX_CHOICES
from ..attacks.catalogue import ATTACKS, PRIOR_ATTACKS
from ..core.config import SCALES
from ..data import DATASETS
from ..models import ARCHS, build_model

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0)]


def _increasing(widths: list[int]) -> list[int]:
    if any(b <= a for a, b in zip(widths, widths[1:])):
        raise ValueError(f"widths must increase (narrowest funnel first), got {widths}")
    return widths


Widths = Annotated[list[Count], Field(min_length=1), AfterValidator(_increasing)]   # SiftFunnel's ladder


def _one_of(what: str, valid) -> AfterValidator:
    def check(value):
        if value not in valid:
            raise ValueError(f"not a known {what}; valid: {', '.join(map(str, valid))}")
        return value
    return AfterValidator(check)


@lru_cache(maxsize=None)
def cut_names(arch: str = "vgg") -> tuple[str, ...]:
    return tuple(build_model(arch).cut_names)


Dataset = Annotated[str, _one_of("dataset", tuple(DATASETS))]
Arch = Annotated[str, _one_of("architecture", tuple(ARCHS))]
Attack = Annotated[str, _one_of("attack", ATTACKS)]
PriorAttack = Annotated[str, _one_of("prior attack", PRIOR_ATTACKS)]
VggCut = Annotated[str, AfterValidator(lambda cut: _check_cut(cut, "vgg"))]


def _check_cut(cut: str, arch: str) -> str:
    if cut not in cut_names(arch):
        raise ValueError(f"{cut!r} is not a cut of the {arch} model; its cuts: {', '.join(cut_names(arch))}")
    return cut


def _check_cuts(name: str, cuts: list[str], arch: str) -> None:
    """A model-level rule on a list of cuts: the error names the parameter and its value."""
    try:
        for cut in cuts:
            _check_cut(cut, arch)
    except ValueError as error:
        raise ValueError(f"parameter {name} = {cuts!r} (arch {arch!r}): {error}") from None


def _check_deeper(deep: tuple[str, str], shallow: tuple[str, str], why: str) -> None:
    """A rule between two (name, cut) parameters of the VGG-style model: ``deep`` after ``shallow``."""
    order = cut_names("vgg")
    if order.index(deep[1]) <= order.index(shallow[1]):
        raise ValueError(f"parameter {deep[0]} = {deep[1]!r}: must come after {shallow[0]} = {shallow[1]!r} ({why})")


class Parameters(BaseModel):
    """What every notebook takes."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    scale: Literal[tuple(SCALES)] = "quick"
    seed: Seed = 0


class Trained(Parameters):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dataset: Dataset = "mnist5k"


class Budgeted(Trained):
    classifier_epochs: Annotated[int, Field(ge=0)] = 0


class Quickstart(Trained):
    arch: Arch = "vgg"
    cuts: Annotated[list[str], Field(min_length=1)] = ["pool1", "fc1"]
    aux: Annotated[str, _one_of("attacker's data", AUX_CHOICES)] = "disjoint_aux"

    @model_validator(mode="after")
    def cuts_of_the_arch(self):
        _check_cuts("cuts", self.cuts, self.arch)
        return self


class EntropyBound(Trained):
    mixture_dim: Count = 8
    channel_dim: Count = 4
    components: Count = 4
    noise_levels: Annotated[list[Positive], Field(min_length=1)] = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    mixture_samples: Annotated[int, Field(ge=10)] = 20000
    cut: VggCut = "fc1"
    relative_noise: Annotated[list[Positive], Field(min_length=1)] = [0.25, 0.5, 1.0, 2.0, 4.0]
    mixture_k: Count = 3

    @model_validator(mode="after")
    def channel_compresses(self):
        if self.channel_dim > self.mixture_dim:
            raise ValueError(f"parameter channel_dim = {self.channel_dim}: must not exceed mixture_dim = "
                             f"{self.mixture_dim} (the channel compresses)")
        return self


class IntraClassVariance(Budgeted):
    archs: Annotated[list[Arch], Field(min_length=1)] = ["vgg", "resnet", "constant"]
    other_datasets: list[Dataset] = ["fashion-mnist", "cifar10"]
    smoothing: Annotated[list[Annotated[float, Field(ge=-0.5, lt=1, allow_inf_nan=False)]], Field(min_length=1)] = \
        [0.0, 0.3, -0.05]
    smoothing_seeds: Annotated[list[Seed], Field(min_length=1)] = [0, 1, 2, 3, 4]
    smoothing_cuts: Annotated[list[VggCut], Field(min_length=1)] = ["relu5", "pool3", "fc1", "logits"]
    smoothing_attack_cut: VggCut = "logits"
    smoothing_attacked: list[Finite] = [0.0, 0.3]
    gpz_threshold: Fraction = 0.2

    @model_validator(mode="after")
    def attacked_arms_are_arms(self):
        if not set(self.smoothing_attacked) <= set(self.smoothing):
            raise ValueError(f"parameter smoothing_attacked = {self.smoothing_attacked}: each must be one of the "
                             f"arms of smoothing = {self.smoothing}")
        return self


class AttackEvaluation(Trained):
    arch: Arch = "vgg"
    cuts: list[str] = []
    attacks: Annotated[list[Attack], Field(min_length=1)] = list(ATTACKS)
    prior_attacks: list[PriorAttack] = list(PRIOR_ATTACKS)
    grid_cuts: list[str] = ["pool1", "pool3", "fc1"]
    aux: Annotated[str, _one_of("attacker's data", AUX_CHOICES)] = "disjoint_aux"

    @model_validator(mode="after")
    def cuts_of_the_arch(self):
        _check_cuts("cuts", self.cuts, self.arch)
        _check_cuts("grid_cuts", self.grid_cuts, self.arch)
        return self


class Attacked(Budgeted):
    attacks: Annotated[list[Attack], Field(min_length=1)] = list(ATTACKS)
    attacker: Literal["standard", "strong"] = "standard"


class SiftFunnel(Attacked):
    cut: VggCut = "pool2"
    defenses: dict = {}
    criterion_cuts: list[VggCut] = ["pool1", "pool3", "fc1", "logits"]
    grid_defenses: list[str] = ["noise", "nopeek", "bottleneck", "adversarial", "siftfunnel"]
    accuracy_budget: Fraction = 0.03
    siftfunnel_widths: Widths = [8, 16, 32, 64]


class Cem(Budgeted):
    cut: VggCut = "pool2"
    sigma: Positive = 0.5
    stacked: dict[str, dict] = {"adversarial": {"weight": 1.0}, "dropout": {"rate": 0.5},
                                "bottleneck": {"channels": 8}, "siftfunnel": {"channels": 8}}
    cem: dict = {}
    fallback_weights: list[Positive] = [2.0]
    accuracy_match: Fraction = 0.01
    min_base_accuracy: Fraction = 0.8


class PatrolSetting(BaseModel):
    """PATROL's strengths (notebook 06's parameters; notebook 07's ``patrol`` dict)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    sparsity: NonNegative = 0.001
    prune_at: Fraction = 0.5
    lipschitz: NonNegative = 0.01
    adversarial: NonNegative = 1.0


class Patrol(Attacked, PatrolSetting):
    shallow_cut: VggCut = "pool1"
    deep_cut: VggCut = "pool3"
    metric: Literal["flops", "params"] = "flops"

    @model_validator(mode="after")
    def deeper_than_the_budget(self):
        _check_deeper(("deep_cut", self.deep_cut), ("shallow_cut", self.shallow_cut),
                      "PATROL prunes a deeper edge down to the shallow one's budget")
        return self


class DefenseBenchmark(Attacked):
    cut: VggCut = "pool2"
    defenses: dict = {}
    extra_defenses: dict = {}
    patrol: PatrolSetting = PatrolSetting()
    patrol_cut: VggCut = "pool3"
    compare_attackers: bool = True
    accuracy_budget: Fraction = 0.03
    siftfunnel_widths: Widths = [8, 16, 32, 64]

    @model_validator(mode="after")
    def patrol_is_deeper_than_its_budget(self):
        _check_deeper(("patrol_cut", self.patrol_cut), ("cut", self.cut),
                      "PATROL prunes a deeper edge down to the FLOPs of the undefended edge at cut")
        return self


def _plain_name(name: str) -> str:
    if name in (".", ".."):
        raise ValueError("'.' and '..' name no run: the name becomes a folder under figures/claims/")
    return name


RunName = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$"), AfterValidator(_plain_name)]


class PaperClaims(Parameters):
    budget_variant: RunName = "classifier_epochs6"
    attacker_variant: RunName = "attackerstrong"


class Audit(Parameters):
    """Notebook 09 and ``python -m helpers.audit``: a user's model, split at named modules; ``n_seeds``
    seeds from ``seed`` on."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    model: Annotated[str, Field(min_length=3)] = "torchvision:resnet18"
    cuts: Annotated[list[str], Field(min_length=1)] = ["layer1", "layer2", "layer3"]
    dataset: Dataset = "fashion-mnist"
    n_seeds: Count = 1
    attackers: Annotated[list[Literal["standard", "strong"]], Field(min_length=1, max_length=2)] = [
        "standard", "strong"]
    checkpoint: str = ""                 # "": trained with the project's loop at the scale
    max_edge_mflops: NonNegative = 0.0   # 0: no edge budget
    out: Annotated[str, Field(min_length=1)] = "build/audit"

    @model_validator(mode="after")
    def the_model_splits_at_the_cuts(self):
        for name, values in (("cuts", self.cuts), ("attackers", self.attackers)):
            if len(set(values)) != len(values):
                raise ValueError(f"parameter {name} = {values!r}: list each once")
        from ..data import load_dataset

        data = load_dataset(self.dataset)
        try:
            build_model(self.model, data.image_shape, data.num_classes, cuts=self.cuts)
        except ValueError as error:
            raise ValueError(f"parameter model = {self.model!r}, cuts = {self.cuts!r} "
                             f"(images {data.image_shape}): {error}") from None
        return self


SCHEMAS = {"00": Quickstart, "01": EntropyBound, "02": IntraClassVariance, "03": AttackEvaluation,
           "04": SiftFunnel, "05": Cem, "06": Patrol, "07": DefenseBenchmark, "08": PaperClaims,
           "09": Audit}


def validate(notebook: str, namespace: dict) -> BaseModel:
    """The parameters of ``notebook`` (its two-digit number) found in ``namespace`` (the notebook's
    ``globals()``), checked against its schema; a ValueError lists every bad one."""
    schema = SCHEMAS[notebook[:2]]
    values = {name: namespace[name] for name in schema.model_fields if name in namespace}
    try:
        return schema(**values)
    except ValidationError as error:
        raise ValueError(explain(notebook, error, values)) from None


def explain(notebook: str, error: ValidationError, values: dict) -> str:
    """One line per problem: the parameter, the value given, what is valid."""
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        message = problem["msg"].removeprefix("Value error, ")
        if not location:   # a rule between parameters: its message names them
            lines.append(message)
            continue
        name = location[0]
        where = f"{name}[{']['.join(location[1:])}]" if len(location) > 1 else name
        given = f" = {values[name]!r}" if name in values else ""
        lines.append(f"parameter {where}{given}: {message}")
    return f"notebook {notebook}: bad parameters\n  " + "\n  ".join(lines)
