"""Data sets as seeded train / validation / test splits: ``load_dataset(name, ...) -> DataSplits``.

- ``mnist1d`` (default): MNIST-1D (Greydanus 2020) generated locally with the ``mnist1d`` package's
  generator, never downloaded. As published: 4,000 train+val and 1,000 test signals of length 40.
- ``cifar10`` / ``cifar100``: the python versions of CIFAR (Krizhevsky 2009) read through torchvision from
  ``root`` (never downloaded at run time), with the standard augmentation of He et al. (2016): random crop
  with 4-pixel zero padding and horizontal flip, per-channel normalisation.
- ``toy2d``: 2-D binary classification (two circles, two moons, two spirals), the kind of example Sun, Tao
  and Du use to show the regularising effect of noise injection.

Small data sets are in-memory tensors batched by index (``TensorSplit``); CIFAR uses a DataLoader with
workers (``LoaderSplit``). Both offer ``batches(batch_size, shuffle=, generator=, augment=)``, which is all
``nas.train.fit`` needs. The validation split is carved out of the training pool with ``seed``; the test
split never depends on ``seed``, so trials with different seeds are scored on the same test set. Inputs are
normalised with statistics of the training split only.
"""
from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .data_info import (DATASETS, INFO, MACROS, MNIST1D_GENERATOR_SEED, MNIST1D_TRAIN_POOL, TOY2D_KINDS,
                        TOY2D_TRAIN_POOL, DatasetInfo, check_request)

# Shift range of the MNIST-1D augmentation: ±3 samples (calibrated here, see STACK.md).
MNIST1D_MAX_SHIFT = 3


# --------------------------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class RandomShift:
    """Shift each 1-D signal (N, C, L) by an integer in [−max_shift, max_shift], repeating the edge value."""

    max_shift: int = MNIST1D_MAX_SHIFT

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, channels, length = x.shape
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (n, 1, 1), generator=generator)
        positions = torch.arange(length).view(1, 1, length) - shifts
        # One gather per batch; clamping the source index repeats the edge value instead of inventing zeros.
        index = positions.clamp_(0, length - 1).expand(n, channels, length).to(x.device, non_blocking=True)
        return x.gather(2, index)


@dataclass(frozen=True, eq=False)
class TensorSplit:
    """An in-memory split: inputs ``x`` (float32, N × input_shape) and labels ``y`` (int64, N)."""

    x: torch.Tensor
    y: torch.Tensor
    augmentation: Callable | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device) -> "TensorSplit":
        device = torch.device(device)
        if self.x.device == device:
            return self
        return replace(self, x=self.x.to(device), y=self.y.to(device))

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                augment: bool = False, device=None, drop_singleton: bool = False
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Mini-batches by index. ``generator`` (CPU) drives the shuffle and the augmentation.

        ``drop_singleton`` drops a last batch of one sample (batch norm cannot train on it).
        """
        x, y = self.x, self.y
        if device is not None and x.device != torch.device(device):
            x, y = x.to(device), y.to(device)
        n = len(self)
        order = torch.randperm(n, generator=generator).to(x.device) if shuffle else None
        transform = self.augmentation if augment else None
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if drop_singleton and stop - start == 1 and n > 1:
                break
            if order is None:
                xb, yb = x[start:stop], y[start:stop]
            else:
                index = order[start:stop]
                xb, yb = x.index_select(0, index), y.index_select(0, index)
            if transform is not None:
                xb = transform(xb, generator)
            yield xb, yb


class ImageArrayDataset(torch.utils.data.Dataset):
    """uint8 images (N, 3, H, W) and int64 labels with a per-sample tensor transform (runs in workers)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index):
        return self.transform(self.images[index]), self.labels[index]


@dataclass(frozen=True, eq=False)
class LoaderSplit:
    """A split read through a DataLoader with workers (large data sets).

    ``plain`` applies only the normalisation; ``augmented`` (or None) adds the training augmentation.
    """

    plain: torch.utils.data.Dataset
    augmented: torch.utils.data.Dataset | None = None
    num_workers: int = 0

    def __len__(self) -> int:
        return len(self.plain)

    def to(self, device) -> "LoaderSplit":
        return self  # batches are moved when they are drawn

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                augment: bool = False, device=None, drop_singleton: bool = False
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        dataset = self.augmented if augment and self.augmented is not None else self.plain
        device = torch.device("cpu" if device is None else device)
        n = len(dataset)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
            num_workers=self.num_workers, pin_memory=device.type == "cuda",
            drop_last=drop_singleton and n > 1 and n % batch_size == 1,
        )
        for xb, yb in loader:
            yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)


@dataclass(frozen=True, eq=False)
class DataSplits:
    """A data set as train / validation / test splits plus what a network needs to know about it.

    ``macro`` is the natural macro-architecture (``sequence``, ``image``, ``mlp``); ``input_shape`` is one
    sample's shape without the batch dimension; ``spec`` holds the arguments that rebuild these splits
    exactly with ``load_dataset(**spec)``.
    """

    name: str
    train: TensorSplit | LoaderSplit
    val: TensorSplit | LoaderSplit
    test: TensorSplit | LoaderSplit
    num_classes: int
    in_channels: int
    input_shape: tuple[int, ...]
    macro: str
    spec: dict = field(default_factory=dict)

    def to(self, device) -> "DataSplits":
        """The same splits with in-memory tensors moved to ``device`` (loader splits move per batch)."""
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    def sizes(self) -> dict:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


# ------------------------------------------------------------------------------------------- loading
def load_dataset(name: str = "mnist1d", *, seed: int = 0, root=None, num_samples: int | None = None,
                 val_fraction: float = 0.2, **options) -> DataSplits:
    """Seeded train / validation / test splits of a named data set.

    name            one of ``mnist1d``, ``cifar10``, ``cifar100``, ``toy2d``
    seed            chooses the validation samples (and nothing else): same seed, identical splits
    root            CIFAR folder holding ``cifar-10-batches-py`` / ``cifar-100-python`` (default
                    ``$NAS_DATA_ROOT``, else ``./data``)
    num_samples     size of the train+validation pool (default: 4,000 mnist1d, 1,000 toy2d, 50,000 CIFAR)
    val_fraction    share of the pool held out for validation
    options         mnist1d: ``num_test_samples`` (default pool/4), ``generator_seed`` (default 42, the
                    published one); toy2d: ``kind`` (circles | moons | spirals), ``noise`` (default 0.1),
                    ``num_test_samples``, ``generator_seed`` (default 0); cifar: ``num_workers``
                    (default min(4, CPUs)), ``verify_md5`` (default False: files are only checked to exist)
    """
    check_request(name, seed=seed, root=root, num_samples=num_samples, val_fraction=val_fraction, **options)
    seed, val_fraction = int(seed), float(val_fraction)
    num_samples = None if num_samples is None else int(num_samples)
    if name in CIFAR_FILES:  # recorded resolved: Ray Tune trials run in their own working directories
        root = default_data_root() if root is None else Path(root).expanduser().resolve()
    spec = {"name": name, "seed": seed, "root": None if root is None else str(root), "num_samples": num_samples,
            "val_fraction": val_fraction, **options}
    if name == "mnist1d":
        splits = _load_mnist1d(seed, num_samples, val_fraction, **options)
    elif name == "toy2d":
        splits = _load_toy2d(seed, num_samples, val_fraction, **options)
    else:
        splits = _load_cifar(name, seed, root, num_samples, val_fraction, **options)
    return replace(splits, spec=spec)


def _pool_split(pool_size: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (train, val) index arrays of the pool, chosen with ``seed``."""
    num_val = int(round(pool_size * val_fraction))
    if num_val < 1 or pool_size - num_val < 2:
        raise ValueError(f"num_samples: a pool of {pool_size} with val_fraction {val_fraction} leaves "
                         f"{pool_size - num_val} training and {num_val} validation samples; need >= 2 and >= 1")
    order = np.random.default_rng(seed).permutation(pool_size)
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def _standardise(train: np.ndarray, *others: np.ndarray, axes: tuple[int, ...]) -> list[np.ndarray]:
    """(x − mean) / std with the training split's statistics over ``axes`` (per channel / feature)."""
    mean = train.mean(axis=axes, keepdims=True)
    std = train.std(axis=axes, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def _tensor_splits(x_train, y_train, x_val, y_val, x_test, y_test, augmentation=None):
    def as_split(x, y, aug=None):
        return TensorSplit(torch.from_numpy(np.ascontiguousarray(x)),
                           torch.from_numpy(np.array(y, dtype=np.int64)), aug)
    return as_split(x_train, y_train, augmentation), as_split(x_val, y_val), as_split(x_test, y_test)


def _load_mnist1d(seed, num_samples, val_fraction, *, num_test_samples=None,
                  generator_seed=MNIST1D_GENERATOR_SEED) -> DataSplits:
    """MNIST-1D from ``mnist1d.data.make_dataset`` (never ``get_dataset``, which downloads)."""
    pool = MNIST1D_TRAIN_POOL if num_samples is None else num_samples
    num_test = max(pool // 4, 1) if num_test_samples is None else num_test_samples
    raw_x, raw_y = _generate_mnist1d(pool + num_test, generator_seed)
    # The generator shuffles its samples; the first ``pool`` are train+val and the next ones are test, which
    # with the defaults is exactly the package's own 80/20 split (train_split 0.8 of 5,000).
    x_pool, y_pool = raw_x[:pool], raw_y[:pool]
    x_test, y_test = raw_x[pool:pool + num_test], raw_y[pool:pool + num_test]
    train_idx, val_idx = _pool_split(pool, val_fraction, seed)
    # make_dataset standardised with statistics of all samples, test included; an affine re-standardisation
    # with training statistics cancels that exactly, so no test statistic reaches the inputs.
    x_train, x_val, x_test = _standardise(x_pool[train_idx], x_pool[val_idx], x_test, axes=(0, 1))
    train, val, test = _tensor_splits(x_train[:, None, :], y_pool[train_idx], x_val[:, None, :], y_pool[val_idx],
                                      x_test[:, None, :], y_test, augmentation=RandomShift())
    length = x_train.shape[-1]
    return DataSplits("mnist1d", train, val, test, num_classes=10, in_channels=1, input_shape=(1, length),
                      macro=MACROS["mnist1d"])


@functools.lru_cache(maxsize=4)
def _generate_mnist1d(total: int, generator_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST-1D signals and labels (read-only; cached because generation takes about a second)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    # make_dataset draws num_samples // 10 per class; ask for enough whole classes and trim afterwards.
    args.num_samples = -(-total // 10) * 10
    args.train_split = 1.0
    args.seed = generator_seed
    # make_dataset reseeds the global `random` and `numpy.random` generators: leave the caller's untouched.
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        generated = make_dataset(args)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    x = np.asarray(generated["x"], dtype=np.float64)
    y = np.asarray(generated["y"], dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


# --------------------------------------------------------------------------------------------- toy2d
def toy2d_points(kind: str, num_samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Balanced 2-D binary classification points (x: (n, 2), y: (n,) in {0, 1}), shuffled.

    circles: radius 1 (class 0) and 0.5 (class 1); moons: the upper half circle centred at 0 (class 0) and
    the lower one centred at (1, 0.5) (class 1); spirals: r = θ / 3π, θ ∈ [π/4, 3π], the second arm turned
    by π. Gaussian noise of standard deviation ``noise`` is added to both coordinates.
    """
    if kind not in TOY2D_KINDS:
        raise ValueError(f"kind: unknown toy2d kind {kind!r}; known kinds: {', '.join(TOY2D_KINDS)}")
    counts = (num_samples - num_samples // 2, num_samples // 2)
    parts = []
    for label, n in enumerate(counts):
        if kind == "circles":
            theta = rng.uniform(0, 2 * np.pi, n)
            radius = 1.0 if label == 0 else 0.5
            points = radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        elif kind == "moons":
            theta = rng.uniform(0, np.pi, n)
            if label == 0:
                points = np.stack([np.cos(theta), np.sin(theta)], axis=1)
            else:
                points = np.stack([1 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
        else:
            theta = rng.uniform(np.pi / 4, 3 * np.pi, n)
            angle = theta + label * np.pi
            points = (theta / (3 * np.pi))[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        parts.append((points + noise * rng.standard_normal(points.shape), np.full(n, label, dtype=np.int64)))
    x = np.concatenate([p for p, _ in parts])
    y = np.concatenate([lab for _, lab in parts])
    order = rng.permutation(num_samples)
    return x[order], y[order]


def _load_toy2d(seed, num_samples, val_fraction, *, kind="circles", noise=0.1, num_test_samples=None,
                generator_seed=0) -> DataSplits:
    pool = TOY2D_TRAIN_POOL if num_samples is None else num_samples
    num_test = max(pool // 4, 1) if num_test_samples is None else num_test_samples
    rng = np.random.default_rng(generator_seed)
    x, y = toy2d_points(kind, pool + num_test, float(noise), rng)
    train_idx, val_idx = _pool_split(pool, val_fraction, seed)
    x_train, x_val, x_test = _standardise(x[train_idx], x[val_idx], x[pool:], axes=(0,))
    train, val, test = _tensor_splits(x_train, y[train_idx], x_val, y[val_idx], x_test, y[pool:])
    return DataSplits("toy2d", train, val, test, num_classes=2, in_channels=2, input_shape=(2,),
                      macro=MACROS["toy2d"])


# --------------------------------------------------------------------------------------------- CIFAR
CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]),
    "cifar100": ("cifar-100-python", ["train", "test", "meta"]),
}


def default_data_root() -> Path:
    """``$NAS_DATA_ROOT`` if set, else ``./data``; absolute, because Ray Tune trials change directory."""
    return Path(os.environ.get("NAS_DATA_ROOT", "data")).resolve()


def _cifar_class(name: str, verify_md5: bool):
    from .torchvision_cifar import CIFAR_CLASSES  # torchvision only when CIFAR is loaded

    return CIFAR_CLASSES[name, verify_md5]


def _load_cifar(name, seed, root, num_samples, val_fraction, *, num_workers=None, verify_md5=False) -> DataSplits:
    folder_name, files = CIFAR_FILES[name]
    folder = root / folder_name
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ValueError(
            f"{name}: data files not found: expected {folder}/{{{', '.join(files)}}} "
            f"(missing: {', '.join(missing)}); extract the python version from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html there or pass --data-root; nothing is downloaded at run time")
    if num_workers is None:
        num_workers = min(4, os.cpu_count() or 1)
    cls = _cifar_class(name, bool(verify_md5))
    try:
        train_set = cls(str(root), train=True, download=False)
        test_set = cls(str(root), train=False, download=False)
    except Exception as exc:  # corrupted pickle, wrong checksum: one clear error, not a traceback
        raise ValueError(f"{name}: cannot read the files under {folder}: {exc}") from None
    # torchvision holds images as (N, H, W, C) uint8; the transforms work on (C, H, W) tensors.
    pool_images = torch.from_numpy(np.ascontiguousarray(train_set.data)).permute(0, 3, 1, 2).contiguous()
    pool_labels = torch.as_tensor(train_set.targets, dtype=torch.int64)
    test_images = torch.from_numpy(np.ascontiguousarray(test_set.data)).permute(0, 3, 1, 2).contiguous()
    test_labels = torch.as_tensor(test_set.targets, dtype=torch.int64)
    if num_samples is not None:
        if num_samples > len(pool_labels):
            raise ValueError(f"num_samples: {name} has {len(pool_labels)} training images, asked for {num_samples}")
        # A seed-independent subset, so that every seed draws its validation split from the same pool.
        keep = np.sort(np.random.default_rng(0).permutation(len(pool_labels))[:num_samples])
        pool_images, pool_labels = pool_images[keep], pool_labels[keep]
    train_idx, val_idx = _pool_split(len(pool_labels), val_fraction, seed)
    train_idx, val_idx = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    train_images = pool_images[train_idx]
    # Per-channel statistics of the training split only (scaled to [0, 1] like ToDtype(scale=True)).
    pixels = train_images.to(torch.float64).div_(255)
    mean = pixels.mean(dim=(0, 2, 3)).tolist()
    std = pixels.std(dim=(0, 2, 3)).clamp_min(1e-12).tolist()
    plain, augmented = _cifar_transforms(mean, std, size=train_images.shape[-1])

    def split(images, labels, with_augmentation):
        return LoaderSplit(ImageArrayDataset(images, labels, plain),
                           ImageArrayDataset(images, labels, augmented) if with_augmentation else None,
                           num_workers)

    train = split(train_images, pool_labels[train_idx], True)
    val = split(pool_images[val_idx], pool_labels[val_idx], False)
    test = split(test_images, test_labels, False)
    num_classes = 10 if name == "cifar10" else 100
    return DataSplits(name, train, val, test, num_classes=num_classes, in_channels=3,
                      input_shape=tuple(train_images.shape[1:]), macro=MACROS[name])


def _cifar_transforms(mean, std, size: int):
    """(plain, augmented): normalisation; random crop (4-pixel zero padding) + flip + normalisation."""
    from torchvision.transforms import v2

    normalise = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    plain = v2.Compose(normalise)
    augmented = v2.Compose([v2.RandomCrop(size, padding=4), v2.RandomHorizontalFlip(), *normalise])
    return plain, augmented


__all__ = ["DATASETS", "TOY2D_KINDS", "MACROS", "INFO", "DatasetInfo", "check_request", "DataSplits", "TensorSplit",
           "LoaderSplit", "RandomShift", "ImageArrayDataset", "load_dataset", "toy2d_points", "default_data_root"]
