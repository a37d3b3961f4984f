"""The one classifier-training function every notebook uses (explained in 00_quickstart).

``train_classifier(config, splits)`` trains a :mod:`helpers.models` classifier with Adam on the
target-train split, evaluates it on the target-test split after every epoch, and caches the
weights and history by a hash of the full config (:mod:`helpers.core.cache`). A second call with the
same config loads instead of training.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core import cache
from ..core.config import Scale, check_choice, check_range
from ..core.inference import predict
from ..core.progress import progress
from ..core.repro import resolve_device, seed_everything
from ..data import DATASETS, Split, Splits, fit_sizes
from ..defenses import Defense, ObservedEdge, from_config
from ..models import SplittableNet, build_model, check_arch, check_cut, is_external, source_digest, split


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained classifier (and hence its cache key)."""

    dataset: str = "mnist5k"
    arch: str = "vgg"
    width: int | None = None          # None: the architecture's default
    n_train: int = 2500
    n_test: int = 1000
    n_aux: int = 1500
    n_val: int = 0                    # the last n_val target-train images are held out: validation
    split_seed: int = 0               # seed of split_dataset
    epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3
    label_smoothing: float = 0.0      # α: 1-α on the true class, α/(K-1) on the others; α<0 sharpens
    seed: int = 0                     # initialisation and batch order
    keep_epoch_states: bool = False   # store the weights after every epoch (training dynamics)
    defense: dict | None = None       # Defense.config() of a defense trained in (None: undefended)
    cut: str | None = None            # where the defense acts; required with a defense
    cuts: tuple | None = None         # a user's model (arch "torchvision:NAME", "module:function"): where it is split

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_arch(self.arch)
        self._check_cuts()
        check_range("label_smoothing", self.label_smoothing, -0.5, 1.0)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
        if type(self.n_val) is not int or not 0 <= self.n_val < self.n_train:
            raise ValueError(f"n_val must be an integer in [0, n_train), got {self.n_val!r}")
        for name in ("n_train", "n_test", "n_aux", "epochs", "batch_size", "split_seed", "seed"):
            value = getattr(self, name)
            if type(value) is not int or (value <= 0 and "seed" not in name) or value < 0:
                raise ValueError(f"{name} must be a {'non-negative' if 'seed' in name else 'positive'} "
                                 f"integer, got {value!r}")
        if self.width is not None and (type(self.width) is not int or self.width <= 0):
            raise ValueError(f"width must be a positive integer or None, got {self.width!r}")
        if self.defense is not None:
    
            defense = from_config(self.defense)  # validates the name and the strength parameters
            # normalised (defaults and architecture version filled in), so equal defenses share a key
            object.__setattr__(self, "defense", defense.config())
            if self.cut is None:
                raise ValueError("a defended classifier needs the cut point the defense acts at")
            if is_external(self.arch):   # the architecture is built, with the data's shape, where it is trained
                check_choice("cut", self.cut, self.cuts)
            else:
                check_cut(build_model(self.arch), self.cut)
                defense.build(build_model(self.arch), self.cut)  # architecture/cut compatibility
            if defense.label_smoothing is not None and self.label_smoothing != 0:
                raise ValueError(f"{defense} sets the label smoothing itself; leave label_smoothing at 0")

    def _check_cuts(self) -> None:
        if not is_external(self.arch):
            if self.cuts is not None:
                raise ValueError(f"cuts are set for a user's model only, not for arch {self.arch!r}")
            return
        if isinstance(self.cuts, str) or not self.cuts or not all(isinstance(c, str) and c for c in self.cuts):
            raise ValueError(f"a user's model ({self.arch!r}) needs cuts: a non-empty list of module names, "
                             f"got {self.cuts!r}")
        if self.width is not None:
            raise ValueError(f"width applies to the built-in architectures, not to {self.arch!r}")
        object.__setattr__(self, "cuts", tuple(self.cuts))

    def cache_fields(self) -> dict:
        """The fields that identify the weights; the defense fields only when a defense is set, so
        undefended classifiers keep the keys they had before defenses existed. A user's model adds
        its cuts (the weights' names follow the split) and a digest of the code that defines it."""
        fields = dataclasses.asdict(self)
        if self.cuts is None:
            fields.pop("cuts")
        else:
            fields["cuts"], fields["model_source"] = list(self.cuts), source_digest(self.arch)
        if self.n_val == 0:  # classifiers trained on all of target-train keep their keys
            fields.pop("n_val")
        if self.defense is None:
            fields.pop("defense"), fields.pop("cut")
        return fields

    def make_defense(self):
        return from_config(self.defense)

    def build_model(self, input_shape, num_classes: int) -> SplittableNet:
        """The untrained classifier as deployed: the architecture, changed by the defense if any."""
        model = build_model(self.arch, tuple(input_shape), num_classes, self.width, self.cuts)
        return self.make_defense().build(model, self.cut)

    @property
    def target_smoothing(self) -> float:
        """The label smoothing training uses: the defense's when it sets one, else ``label_smoothing``."""
        own = self.make_defense().label_smoothing
        return self.label_smoothing if own is None else own

    @classmethod
    def from_scale(cls, scale: Scale, data=None, **overrides) -> "TrainConfig":
        """Budgets from ``scale``; the data split follows ``seed`` (``split_seed`` = seed unless given, so
        an interval over seeds covers the data's sampling too); with ``data``, split sizes shrink to
        fit it (:func:`fit_sizes`), and a validation size ``n_val`` given shrinks with target-train (``paper``'s 5,000 of 50,000
        become 357 of mnist5k's 3,571)."""
        n_train, n_test, n_aux = scale.n_train, scale.n_test, scale.n_aux
        if data is not None:
            n_train, n_test, n_aux = fit_sizes(data, n_train, n_test, n_aux)
            overrides.setdefault("dataset", data.name)
            if overrides.get("n_val") and n_train < scale.n_train:
                overrides["n_val"] = max(1, overrides["n_val"] * n_train // scale.n_train)
        sizes = dict(n_train=n_train, n_test=n_test, n_aux=n_aux,
                     epochs=scale.epochs, batch_size=scale.batch_size, lr=scale.lr,
                     split_seed=overrides.get("seed", 0))   # each seed redraws the data split
        return cls(**{**sizes, **overrides})

    def split_kwargs(self) -> dict:
        return dict(n_train=self.n_train, n_test=self.n_test, n_aux=self.n_aux, seed=self.split_seed)


@dataclass
class TrainedClassifier:
    model: SplittableNet
    config: TrainConfig
    history: list[dict]                 # one row per epoch: loss, train_acc, test_acc (and val_acc)
    epoch_states: list[dict] | None     # weights after each epoch when config.keep_epoch_states
    cache_key: dict                     # identifies the classifier cache entry (derived caches: weights_key)

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_acc"]

    @property
    def val_accuracy(self) -> float:
        """Accuracy on the held-out validation images: what choices by accuracy are made on."""
        if self.config.n_val == 0:
            raise ValueError("trained without a validation split: set n_val in the TrainConfig")
        return self.history[-1]["val_acc"]

    @property
    def weights_key(self) -> dict:
        """Identifies the final weights, for caches of results derived from them: keeping per-epoch
        weights (``keep_epoch_states``) does not change the final ones, so it is normalised away."""
        return {**self.cache_key, "keep_epoch_states": False}

    @property
    def defense(self):
        """The defense trained in (the undefended :class:`~helpers.defenses.Defense` when none)."""
        return self.config.make_defense()

    def model_at_epoch(self, epoch: int) -> SplittableNet:
        """A copy of the model with the weights it had after ``epoch`` (1-based)."""
        if self.epoch_states is None:
            raise ValueError("trained without keep_epoch_states=True")
        model = self.config.build_model(self.model.input_shape, self.model.num_classes)
        model.load_state_dict(self.epoch_states[epoch - 1])
        return model.eval()


def smoothed_targets(labels: torch.Tensor, num_classes: int, alpha: float) -> torch.Tensor:
    """Soft targets: 1-α on the true class and α/(K-1) on each other class (GPZ's convention)."""
    targets = torch.full((len(labels), num_classes), alpha / (num_classes - 1), device=labels.device)
    return targets.scatter_(1, labels[:, None], 1.0 - alpha)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (predict(model, x) == y).double().mean().item()


def observed_classifier(model: SplittableNet, defense=None, cut: str | None = None) -> torch.nn.Module:
    """The classifier as deployed: cloud(observe(edge(x), defense)); the model itself without a defense."""
    if defense is None or type(defense) is Defense:
        return model
    edge, cloud = split(model, cut)
    return torch.nn.Sequential(ObservedEdge(edge, defense), cloud)


def validation_split(splits: Splits, n_val: int):
    """(x_train, y_train, x_val, y_val): the last ``n_val`` target-train images held out (target-train
    is in a seeded random order, so they are a random sample)."""
    x, y = splits.train.x, splits.train.y
    keep = len(y) - n_val
    return x[:keep], y[:keep], x[keep:], y[keep:]


def held_out(splits: Splits, n_val: int) -> Split:
    """The validation images of :func:`validation_split` as a :class:`Split` (with their dataset
    indices): what choices between defenses are made on, never trained or scored on."""
    if not 0 < n_val < len(splits.train):
        raise ValueError(f"n_val must lie in [1, {len(splits.train) - 1}], got {n_val}")
    keep = len(splits.train) - n_val
    return Split(splits.train.x[keep:], splits.train.y[keep:], splits.train.index[keep:])


def _fit(config: TrainConfig, splits: Splits, device: torch.device) -> dict:
    generator = seed_everything(config.seed)
    x, y, x_val, y_val = validation_split(splits, config.n_val)
    num_classes = splits.num_classes
    # channels_last: about 1.4x faster convolutions on the CPU (benchmarks/RESULTS.md)
    defense = config.make_defense()
    model = config.build_model(x.shape[1:], num_classes).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    edge, cloud = split(model, config.cut) if config.defense else (model, torch.nn.Identity())
    evaluated = observed_classifier(model, defense, config.cut)
    alpha = config.target_smoothing
    history, states = [], []
    bar = progress(range(1, config.epochs + 1), desc=f"train {config.arch} on {config.dataset}",
                   unit="epoch", leave=False)
    for epoch in bar:
        defense.before_epoch(edge, x, y, epoch, config.epochs)
        model.train()
        order = torch.randperm(len(y), generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, len(y), config.batch_size):
            batch = order[start:start + config.batch_size]
            xb = x[batch].to(device).contiguous(memory_format=torch.channels_last)
            yb = y[batch].to(device)
            z = edge(xb)
            # the cloud trains on what it will observe; defense losses see the clean edge output
            logits = cloud(defense.observe(z, generator))
            targets = smoothed_targets(yb, num_classes, alpha)
            loss = defense.task_weight * soft_cross_entropy(logits, targets) + defense.edge_loss(xb, z, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(batch)
            correct += (logits.argmax(1) == yb).sum().item()
        row = {"epoch": epoch, "loss": total_loss / len(y), "train_acc": correct / len(y),
               "test_acc": accuracy(evaluated, splits.test.x, splits.test.y)}
        if config.n_val:
            row["val_acc"] = accuracy(evaluated, x_val, y_val)
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", test_acc=f"{row['test_acc']:.3f}")
        if config.keep_epoch_states:
            states.append({k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()})
    payload = {"state_dict": {k: v.cpu().contiguous() for k, v in model.state_dict().items()}, "history": history,
               "num_classes": num_classes, "input_shape": list(x.shape[1:])}
    if config.keep_epoch_states:
        payload["epoch_states"] = states
    return payload


def train_classifier(config: TrainConfig, splits: Splits, device: str = "auto",
                     overwrite: bool = False) -> TrainedClassifier:
    """Train (or load from the cache) the classifier described by ``config`` on ``splits``.

    ``splits`` must be ``split_dataset(load_dataset(config.dataset), **config.split_kwargs())``;
    its indices are part of the cache key, so passing other splits cannot return stale weights.
    """
    key = {**config.cache_fields(), "splits": splits.fingerprint()}
    if len(splits.train) != config.n_train or len(splits.test) != config.n_test:
        raise ValueError("splits do not match config: build them with config.split_kwargs()")
    torch_device = resolve_device(device)
    # the same training with its per-epoch weights kept has these final weights: read it rather than
    # train again (notebook 02 trains its undefended model so for the label-smoothing arms, and
    # without them for the architecture comparison)
    within = (cache.load_within("classifier", {**key, "keep_epoch_states": True}, ("epoch_states",), torch_device)
              if not config.keep_epoch_states and not overwrite else None)
    payload = within or cache.cached("classifier", key, lambda: _fit(config, splits, torch_device), overwrite,
                                     torch_device)
    model = config.build_model(payload["input_shape"], payload["num_classes"])
    model.load_state_dict(payload["state_dict"])
    return TrainedClassifier(model.eval(), config, payload["history"], payload.get("epoch_states"), key)
