"""Data sets: seeded, disjoint splits; offline MNIST-1D; CIFAR folders; toy2d geometry; bad input."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from nas.data import DATASETS, MACROS, RandomShift, TensorSplit, load_dataset, toy2d_points


pytestmark = pytest.mark.usefixtures("single_thread")


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.reshape(x.shape[0], -1)}


def _assert_disjoint(splits):
    train, val, test = (_rows(s.x) for s in (splits.train, splits.val, splits.test))
    assert len(train) == len(splits.train) and len(val) == len(splits.val) and len(test) == len(splits.test)
    assert not train & val and not train & test and not val & test


def _assert_same(a, b):
    for name in ("train", "val", "test"):
        assert torch.equal(getattr(a, name).x, getattr(b, name).x)
        assert torch.equal(getattr(a, name).y, getattr(b, name).y)


# -------------------------------------------------------------------------------------------- mnist1d
def test_mnist1d_default_is_the_published_size_and_split():
    from mnist1d.data import get_dataset_args, make_dataset

    splits = load_dataset("mnist1d")
    assert splits.sizes() == {"train": 3200, "val": 800, "test": 1000}
    assert splits.train.x.shape == (3200, 1, 40) and splits.train.x.dtype == torch.float32
    assert splits.train.y.dtype == torch.int64
    assert (splits.num_classes, splits.in_channels, splits.input_shape, splits.macro) == (10, 1, (1, 40), "sequence")
    # The test split is the package's own held-out 20% of the published 5,000 (seed 42) ...
    published = make_dataset(get_dataset_args())
    assert torch.equal(splits.test.y, torch.as_tensor(published["y_test"]))
    # ... re-standardised with training statistics, which is an affine map of the package's values.
    reference = np.asarray(published["x_test"])
    ours = splits.test.x[:, 0, :].double().numpy()
    slope, intercept = np.polyfit(reference.ravel(), ours.ravel(), 1)
    np.testing.assert_allclose(ours, slope * reference + intercept, atol=1e-5)


def test_mnist1d_splits_are_disjoint_reproducible_and_train_normalised(small_mnist1d):
    assert small_mnist1d.sizes() == {"train": 240, "val": 60, "test": 75}
    _assert_disjoint(small_mnist1d)
    _assert_same(small_mnist1d, load_dataset("mnist1d", num_samples=300, seed=0))
    x = small_mnist1d.train.x.double()
    assert abs(x.mean().item()) < 1e-6 and abs(x.std(unbiased=False).item() - 1) < 1e-6
    assert set(small_mnist1d.train.y.tolist()) == set(range(10))


def test_mnist1d_seed_moves_validation_only(small_mnist1d):
    other = load_dataset("mnist1d", num_samples=300, seed=1)
    assert torch.equal(other.test.y, small_mnist1d.test.y)  # test never depends on the seed
    # The same pool, divided differently: the labels' multiset is kept, the validation samples change.
    assert sorted(other.train.y.tolist() + other.val.y.tolist()) == sorted(
        small_mnist1d.train.y.tolist() + small_mnist1d.val.y.tolist())
    assert not torch.equal(other.val.y, small_mnist1d.val.y)


def test_mnist1d_generation_leaves_global_generators_alone():
    random.seed(123)
    np.random.seed(456)
    python_before, numpy_before = random.random(), np.random.random()
    random.seed(123)
    np.random.seed(456)
    load_dataset("mnist1d", num_samples=50, generator_seed=7)
    assert (random.random(), np.random.random()) == (python_before, numpy_before)


def test_random_shift_moves_each_signal_by_at_most_three_samples():
    length = 40
    x = torch.arange(length, dtype=torch.float32).repeat(64, 2, 1)  # (64, 2, 40), two identical channels
    shifted = RandomShift(3)(x, torch.Generator().manual_seed(0))
    seen = set()
    for row in shifted:
        shift = int(row[0, length // 2] - length // 2) * -1  # value at the centre tells the shift
        expected = (torch.arange(length) - shift).clamp(0, length - 1).float()
        assert torch.equal(row[0], expected) and torch.equal(row[1], expected)
        seen.add(shift)
    assert seen == set(range(-3, 4))


def test_tensor_split_batches_cover_every_sample_once_and_drop_a_singleton():
    split = TensorSplit(torch.arange(11, dtype=torch.float32)[:, None], torch.arange(11))
    generator = torch.Generator().manual_seed(0)
    batches = list(split.batches(5, shuffle=True, generator=generator, drop_singleton=True))
    assert [len(y) for _, y in batches] == [5, 5]
    everything = torch.cat([y for _, y in split.batches(5, shuffle=True, generator=generator)])
    assert sorted(everything.tolist()) == list(range(11))
    assert [len(y) for _, y in split.batches(4)] == [4, 4, 3]


# ---------------------------------------------------------------------------------------------- toy2d
@pytest.mark.parametrize("kind", ["circles", "moons", "spirals"])
def test_toy2d_splits(kind):
    splits = load_dataset("toy2d", kind=kind, num_samples=200, noise=0.05, seed=3)
    assert splits.sizes() == {"train": 160, "val": 40, "test": 50}
    assert (splits.num_classes, splits.in_channels, splits.input_shape, splits.macro) == (2, 2, (2,), "mlp")
    _assert_disjoint(splits)
    _assert_same(splits, load_dataset("toy2d", kind=kind, num_samples=200, noise=0.05, seed=3))
    _assert_same(splits, load_dataset(**splits.spec))  # the recorded spec rebuilds the splits
    x = splits.train.x.double()
    torch.testing.assert_close(x.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(x.std(0, unbiased=False), torch.ones(2, dtype=torch.float64), atol=1e-6, rtol=0)


def test_toy2d_noise_free_geometry():
    rng = np.random.default_rng(0)
    x, y = toy2d_points("circles", 101, 0.0, rng)
    assert (y == 0).sum() == 51 and (y == 1).sum() == 50
    np.testing.assert_allclose(np.hypot(*x.T), np.where(y == 0, 1.0, 0.5))
    x, y = toy2d_points("moons", 100, 0.0, rng)
    np.testing.assert_allclose(np.hypot(x[y == 0, 0], x[y == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(x[y == 1, 0] - 1, x[y == 1, 1] - 0.5), 1.0)
    assert (x[y == 0, 1] >= 0).all() and (x[y == 1, 1] <= 0.5).all()
    x, y = toy2d_points("spirals", 100, 0.0, rng)
    radius, angle = np.hypot(*x.T), np.arctan2(x[:, 1], x[:, 0])
    theta = radius * 3 * np.pi  # r = θ / 3π
    np.testing.assert_allclose(np.cos(angle), np.cos(theta + np.pi * y), atol=1e-9)


def test_toy2d_noise_has_the_requested_standard_deviation():
    rng = np.random.default_rng(1)
    x, y = toy2d_points("circles", 20000, 0.2, rng)
    clean_radius = np.where(y == 0, 1.0, 0.5)
    # Radial deviation of an isotropic Gaussian perturbation ≈ N(0, σ²) for σ ≪ r (outer circle).
    radial = (np.hypot(*x.T) - clean_radius)[y == 0]
    assert abs(radial.std() - 0.2) < 0.01


# ---------------------------------------------------------------------------------------------- CIFAR
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reads_a_synthetic_folder(cifar_folder, name):
    root, train_labels, test_labels = cifar_folder(name)
    splits = load_dataset(name, root=root, num_workers=0, val_fraction=0.2, seed=0)
    assert splits.spec["root"] == str(root.resolve())
    assert splits.sizes() == {"train": 24, "val": 6, "test": 8}
    assert (splits.num_classes, splits.in_channels, splits.input_shape, splits.macro) == (
        10 if name == "cifar10" else 100, 3, (3, 32, 32), "image")
    x, y = next(iter(splits.test.batches(8)))
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and y.tolist() == test_labels
    labels = torch.cat([y for _, y in splits.train.batches(7)]).tolist() + \
        torch.cat([y for _, y in splits.val.batches(7)]).tolist()
    assert sorted(labels) == sorted(train_labels)
    # Per-channel normalisation with training statistics: plain training images have mean 0 and std 1.
    train_x = torch.cat([x for x, _ in splits.train.batches(24)]).double()
    torch.testing.assert_close(train_x.mean((0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(train_x.std((0, 2, 3)), torch.ones(3, dtype=torch.float64), atol=1e-4, rtol=0)
    # Augmented batches: same shape and labels, different pixels (crop/flip), reproducible from the seed.
    def augmented(seed):
        torch.manual_seed(seed)
        return next(iter(splits.train.batches(24, shuffle=True, generator=torch.Generator().manual_seed(0),
                                              augment=True)))
    (xa, ya), (xb, yb) = augmented(1), augmented(1)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    plain = next(iter(splits.train.batches(24, shuffle=True, generator=torch.Generator().manual_seed(0))))
    assert torch.equal(plain[1], ya) and not torch.equal(plain[0], xa)


def test_cifar_subset_and_md5_verification(cifar_folder):
    root, _, _ = cifar_folder("cifar10")
    assert load_dataset("cifar10", root=root, num_samples=10, num_workers=0).sizes() == {"train": 8, "val": 2,
                                                                                       "test": 8}
    with pytest.raises(ValueError, match="cannot read"):  # the synthetic files fail the real checksums
        load_dataset("cifar10", root=root, verify_md5=True, num_workers=0)


def test_cifar_missing_folder_says_where_files_are_expected(tmp_path, cifar_folder):
    with pytest.raises(ValueError, match=r"cifar10: data files not found: expected .*cifar-10-batches-py"):
        load_dataset("cifar10", root=tmp_path / "nowhere")
    root, _, _ = cifar_folder("cifar100")
    (root / "cifar-100-python" / "test").unlink()
    with pytest.raises(ValueError, match=r"missing: test"):
        load_dataset("cifar100", root=root)


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    ({"name": "mnist"}, "unknown data set 'mnist'"),
    ({"name": "mnist1d", "val_fraction": 0.0}, "val_fraction"),
    ({"name": "mnist1d", "val_fraction": 1}, "val_fraction"),
    ({"name": "mnist1d", "num_samples": 0}, "num_samples"),
    ({"name": "mnist1d", "num_samples": 3, "val_fraction": 0.1}, "num_samples"),
    ({"name": "mnist1d", "seed": -1}, "seed"),
    ({"name": "mnist1d", "colour": "red"}, "unknown option"),
    ({"name": "toy2d", "kind": "squares"}, "kind"),
    ({"name": "toy2d", "noise": -0.1}, "noise"),
])
def test_bad_input_names_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)


def test_every_data_set_has_a_macro():
    assert set(MACROS) == set(DATASETS)
