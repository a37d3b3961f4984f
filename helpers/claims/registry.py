"""Every headline claim, defined once before any run (:data:`CLAIMS`), and the constants of the rule."""
from __future__ import annotations

from dataclasses import dataclass

# From the paper's side to the other; "by construction" is a design constant, not a measurement.
VERDICTS = ("reproduced", "magnitude differs", "same direction", "condition not met", "inconclusive", "not reproduced",
            "by construction")
DIRECTIONS = ("greater", "less", "within")
STATISTICS = ("mean", "count", "constant")   # t-interval over seeds | Clopper-Pearson over pooled trials | no interval
EVERY_READING = "every reading"   # a primary that needs all readings (e.g. "across four models"): the weakest decides
MIN_SEEDS = 3
LEVEL = 0.95
MAGNITUDE_FACTOR = 2.0   # an "≈ X" claim is met within [X / 2, 2 X]; wholly outside it: "magnitude differs"
# The attacks' resolution floor: a per-pixel MSE below 1e-4 (an RMSE under 1% of the pixel range, SSIM
# above 0.99) is a reconstruction as good as exact, so it is reported as "≤ floor" and a ratio against
# it as a bound ("≥ X" over it, "≤ X" of it), never as a number (store.floored_ratio).
MSE_FLOOR = 1e-4
GPZ_OFFICIAL_RULE = "official rule on raw R_c² (|drops|)"   # GPZ's `active identification.py`: the primary reading
BOUNDS = ("", "≥", "≤")   # a claim row's value: exact, a lower bound, an upper bound
ACCURACY_BUDGET_POINTS = 3.0   # SiftFunnel's "< 3%" accuracy loss, read as percentage points
SEED_FOLDER = "claims"        # figures/claims/NN_claims_seedS.csv: the rows of seeds >= 1
DEFAULT_DATASET = "mnist5k"   # the notebooks' default; other datasets: figures/claims/<dataset>/ (every seed)
STRONG_VARIANT = "attackerstrong"   # the rows of `make claims-strong` (04, 06, 07 with attacker="strong")
STRONG_NOTEBOOKS = ("04", "06", "07")   # the notebooks it reruns: their claims rest on a worst case over attacks
STRONG_COLUMN = "strong attacker"   # the column of the published table that judges them
CLAIM_NOTEBOOKS = ("02", "04", "05", "06", "07")   # the notebooks that record claim rows
SECOND_DATASET = "fashion-mnist"    # every claim again on it (`make claims-dataset`): a column of its own


@dataclass(frozen=True)
class Claim:
    """One headline claim: what the paper says and how our number is judged against it."""

    id: str
    source: str          # the paper: GPZ, SiftFunnel, CEM, PATROL, or cross-paper (07)
    statement: str
    paper_value: str     # what the paper reports, in its words
    quantity: str        # what we measure, defined once
    unit: str
    direction: str       # "greater" | "less" | "within": which side of the threshold supports the paper
    threshold: float
    null: float | None = None   # the value of "no effect" (None: a bound, no "same direction")
    margin: float = 0.0         # how far short of the threshold still counts (within: the half-width)
    log: bool = False           # ratios: the interval is computed on log values
    statistic: str = "mean"     # see STATISTICS; "count": value = successes of ``trials`` per seed, threshold a share
    magnitude: tuple[float, float] | None = None   # "≈ X": (X, X), "X to Y": (X, Y); met within MAGNITUDE_FACTOR
    primary: str | None = None  # the paper-faithful reading the verdict follows (EVERY_READING: all must hold)
    condition: str = ""         # what must hold in every seed for the claim to be judged (rows: ``condition met``)

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"claim {self.id}: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.margin < 0:
            raise ValueError(f"claim {self.id}: the margin must be non-negative")
        if self.null is not None and self.direction != "within":
            wrong_side = self.null > self.threshold if self.direction == "greater" else self.null < self.threshold
            if wrong_side:
                raise ValueError(f"claim {self.id}: no effect ({self.null}) lies on the paper's side of {self.threshold}")
        if self.log and (self.threshold <= 0 or (self.null is not None and self.null <= 0)):
            raise ValueError(f"claim {self.id}: a log-scale claim needs a positive threshold and null")
        if self.statistic not in STATISTICS:
            raise ValueError(f"claim {self.id}: statistic must be one of {STATISTICS}, got {self.statistic!r}")
        if self.statistic == "count" and not (0 <= self.threshold <= 1 and not self.log):
            raise ValueError(f"claim {self.id}: a count is judged as a share: its threshold must lie in [0, 1]")
        if self.magnitude is not None:
            low, high = self.magnitude
            if self.direction == "within" or self.null is None or not 0 < low <= high:
                raise ValueError(f"claim {self.id}: a magnitude (0 < low <= high) needs a direction and a no-effect value")
            if (self.direction == "greater" and low <= self.null) or (self.direction == "less" and high >= self.null):
                raise ValueError(f"claim {self.id}: the paper's magnitude {self.magnitude} must lie beyond no effect")


def _claims(*items: Claim) -> dict:
    return {c.id: c for c in items}


_MORE_PRIVATE = "more robust (no table published)"
_SIFT_IN_BUDGET = "SiftFunnel within the accuracy budget"
_PATROL_IN_BUDGET = "the PATROL edge within the accuracy budget of the edge it is compared with"
CLAIMS = _claims(
    # GPZ (notebook 02)
    Claim("gpz.split_gain", "GPZ", "GPZ split: > 4× the MSE of shallow splits", "> 4× (IR-152)",
          "attack MSE at the GPZ cut (rule on R_c²/global variance) / at the shallowest cut", "×",
          "greater", 4.0, null=1.0, log=True, primary=EVERY_READING),   # "across four vision models"
    Claim("gpz.neighbours", "GPZ", "the GPZ cut resists inversion more than the cut just before it",
          "the bound jumps at the GPZ",
          "attack MSE at the GPZ cut (rule on R_c²/global variance) / at the cut before it", "×",
          "greater", 1.0, null=1.0, log=True, primary=EVERY_READING),   # "> 4× shallow" holds for any deep cut
    Claim("gpz.decision_gain", "GPZ", "decision-level more resistant than feature-level", "≈ 66% on average",
          "100·(MSE at the first flat cut / MSE at the last image-shaped cut − 1)", "%", "greater", 66.0, null=0.0,
          magnitude=(66.0, 66.0)),
    Claim("gpz.transition", "GPZ", "R_c² collapses at the feature→decision transition",
          "IR-152 block 49–50, VGG19 30→39",
          "architectures (pooled over seeds) whose GPZ cut is the last image-shaped or the first flat cut", "share",
          "greater", 0.5, null=0.0, statistic="count", primary=GPZ_OFFICIAL_RULE),
    Claim("gpz.ls_shrinks", "GPZ", "LS+ shrinks R_c²", "yes (Neural Vortex)",
          "R_c² with label smoothing α = 0.3 / with one-hot targets, same seed", "×", "less", 1.0, null=1.0, log=True,
          primary="R_c²/global variance at fc1"),   # fc1: the GPZ cut of the VGG-style model
    Claim("gpz.ls_earlier", "GPZ", "LS+ moves the transition earlier", "yes",
          "seeds in which the GPZ cut (rule on R_c²/global variance) moves earlier with LS+", "share",
          "greater", 0.5, null=0.0, statistic="count"),
    Claim("gpz.ls_attack", "GPZ", "LS+ makes inversion harder", "implied (earlier GPZ)",
          "attack MSE at the logits with LS+ / with one-hot targets, same seed", "×", "greater", 1.0, null=1.0,
          log=True),
    # SiftFunnel (notebook 04)
    Claim("sift.mse_gain", "SiftFunnel", "reconstruction error vs the best baseline", "≈ +30%",
          "100·(worst-case MSE of SiftFunnel / of the best baseline within the accuracy budget − 1)", "%",
          "greater", 30.0, null=0.0, magnitude=(30.0, 30.0), condition=_SIFT_IN_BUDGET),
    Claim("sift.mi_cut", "SiftFunnel", "MI and effective information vs the best baseline", "≥ 50% lower",
          "100·(1 − probe of SiftFunnel / of the best baseline within the accuracy budget); MI probes: MINE's bound "
          "and KSG's estimate on 8 principal components, a small fraction of I(X;Z) (notebook 04 §4)", "%",
          "greater", 50.0, null=0.0, primary="MINE", condition=_SIFT_IN_BUDGET),
    Claim("sift.edge", "SiftFunnel", "lighter edge", "≈ 20×",
          "edge FLOPs of the undefended model / of SiftFunnel at the same cut", "×", "greater", 20.0, null=1.0,
          log=True, statistic="constant"),   # fixed by the funnel we designed, not measured
    Claim("sift.accuracy_loss", "SiftFunnel", "accuracy loss", "< 3%",
          "test accuracy of the undefended model − of SiftFunnel", "points", "less", ACCURACY_BUDGET_POINTS),
    Claim("sift.criterion", "SiftFunnel", "MI / entropy / effective information predict attack difficulty",
          "the criterion", "Spearman ρ between the probe and the worst-case attack MSE across defenses", "ρ",
          "less", 0.0, null=0.0, primary="mi_mine"),   # the paper validates its criterion with MINE
    # CEM (notebook 05)
    Claim("cem.gain", "CEM", "CEM raises attack MSE on obfuscation defenses", "average gains 12.9% to 48.2%",
          "100·(decoder MSE with CEM / without − 1), averaged over the bases CEM matches in accuracy", "%",
          "greater", 12.9, null=0.0, magnitude=(12.9, 48.2), primary="noise-aware decoder"),   # the paper's attacker
    # one-sided: a CEM model that gains accuracy does not compromise utility (first defined as an
    # equivalence within ±1 point, which would have counted a gain against the paper)
    Claim("cem.utility", "CEM", "without compromising utility", "same accuracy",
          "test accuracy without CEM − with CEM, averaged over the usable bases", "points", "less", 1.0),
    Claim("cem.redundancy", "CEM",
          "CEM lowers the mixture redundancy R (a plug-in estimate; as R falls, the bound on H(x|z) rises)",
          "the method's objective",
          "redundancy estimate R with CEM − without, averaged over the usable bases", "nats", "less", 0.0, null=0.0),
    # PATROL (notebook 06)
    Claim("patrol.depth", "PATROL", "a deeper edge pruned to the same budget is more private", _MORE_PRIVATE,
          "worst-case MSE of the pruned deeper edge / of the shallow edge", "×", "greater", 1.0, null=1.0, log=True,
          condition=_PATROL_IN_BUDGET),
    Claim("patrol.lipschitz", "PATROL", "Lipschitz regularisation raises reconstruction error", _MORE_PRIVATE,
          "worst-case MSE with the Lipschitz term / without", "×", "greater", 1.0, null=1.0, log=True,
          condition=_PATROL_IN_BUDGET),
    Claim("patrol.adversarial", "PATROL", "adversarial reconstruction training hardens the model", _MORE_PRIVATE,
          "worst-case MSE with adversarial training / without", "×", "greater", 1.0, null=1.0, log=True,
          condition=_PATROL_IN_BUDGET),
    # cross-paper (notebook 07)
    Claim("cross.siftfunnel_best", "cross-paper (07)", "SiftFunnel outperforms state-of-the-art defenses",
          "best privacy at < 3% accuracy loss",
          "worst-case MSE of SiftFunnel / of the best other defense within the accuracy budget", "×",
          "greater", 1.0, null=1.0, log=True, condition=_SIFT_IN_BUDGET + " on validation images"),
    Claim("cross.cem_consistent", "cross-paper (07)", "CEM consistently raises the attack error of its base",
          "under every attack tested", "MSE with CEM / of its base, over (plug-in, attack) pairs", "×",
          "greater", 1.0, null=1.0, log=True, primary="worst (plug-in, attack) pair"),   # "under every attack"
    Claim("cross.patrol_vs_perturbation", "cross-paper (07)",
          "PATROL resists inversion better than perturbation defenses", "superior performance (no table)",
          "worst-case MSE of PATROL / of the perturbation baselines within the accuracy budget", "×",
          "greater", 1.0, null=1.0, log=True, primary="vs the best baseline",
          condition="PATROL within the accuracy budget on validation images"),
)
