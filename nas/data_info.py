"""What each data set is — sample shape, classes, memory per sample, options — known without loading it.

``check_request`` checks every argument of ``nas.data.load_dataset`` (names, ranges, seeds, options) and the
data budget (``nas.limits.DATA_GB``) from this table alone. This module imports neither torch nor numpy, so
``nas train --num-samples 1000000000000`` is refused before the seconds torch takes to import, and a search
checks its data section before anything is generated, read or written.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import limits
from .checks import int_at_least, number_in
from .messages import quote

DATASETS = ("mnist1d", "cifar10", "cifar100", "toy2d")
TOY2D_KINDS = ("circles", "moons", "spirals")

MNIST1D_TRAIN_POOL = 4000  # published size: 4,000 train+val / 1,000 test
MNIST1D_GENERATOR_SEED = 42  # the seed of the published data set (mnist1d.data.get_dataset_args)
TOY2D_TRAIN_POOL = 1000
CIFAR_TRAIN_POOL, CIFAR_TEST = 50_000, 10_000
# Sample dimensions (without the batch) each macro-architecture takes: mlp (features), sequence (C, L), image (C, H, W)
MACRO_INPUT_DIMS = {"mlp": 1, "sequence": 2, "image": 3}


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is, known without loading it: budget, shape and option checks run before any sample
    exists (``check_request``)."""

    input_shape: tuple[int, ...]  # one sample, without the batch dimension
    num_classes: int
    macro: str  # the natural macro-architecture (``nas.networks.NetworkSpec.macro``)
    default_pool: int  # train+validation samples when num_samples is not given
    bytes_per_sample: int  # memory per sample while the set is built and held (an estimate, for the budget)
    options: frozenset
    max_pool: int | None = None  # the most train+validation samples there are (files on disk)

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]

    def check_macro(self, macro: str, where: str = "macro") -> None:
        """A ``ValueError`` unless the macro-architecture ``macro`` takes samples of this data set's shape."""
        if MACRO_INPUT_DIMS.get(macro) != len(self.input_shape):
            raise ValueError(f"{where}: {quote(macro)} does not take samples of shape {self.input_shape}; use "
                             f"{self.macro} (the natural macro-architecture of this data set)")


_CIFAR_OPTIONS = frozenset({"num_workers", "verify_md5"})
_GENERATED_OPTIONS = frozenset({"num_test_samples", "generator_seed"})
INFO = {
    # float64 signals from the generator (with its intermediate copies) plus the float32 tensors
    "mnist1d": DatasetInfo((1, 40), 10, "sequence", MNIST1D_TRAIN_POOL, 1000, _GENERATED_OPTIONS),
    "toy2d": DatasetInfo((2,), 2, "mlp", TOY2D_TRAIN_POOL, 64, _GENERATED_OPTIONS | {"kind", "noise"}),
    # uint8 images, read, subset and permuted (three copies at most)
    "cifar10": DatasetInfo((3, 32, 32), 10, "image", CIFAR_TRAIN_POOL, 10_000, _CIFAR_OPTIONS, CIFAR_TRAIN_POOL),
    "cifar100": DatasetInfo((3, 32, 32), 100, "image", CIFAR_TRAIN_POOL, 10_000, _CIFAR_OPTIONS, CIFAR_TRAIN_POOL),
}
MACROS = {name: info.macro for name, info in INFO.items()}
def check_request(name: str = "mnist1d", *, seed: int = 0, root=None, num_samples: int | None = None,
                  val_fraction: float = 0.2, **options) -> DatasetInfo:
    """Check the arguments of ``load_dataset`` without loading anything: names, ranges, seeds and the data
    budget (``nas.limits.DATA_GB``); returns what the data set is. ``load_dataset`` calls it first."""
    if name not in DATASETS:
        raise ValueError(f"data: unknown data set {quote(name)}; known data sets: {', '.join(DATASETS)}")
    info = INFO[name]
    limits.check_seed(seed, "seed")
    if num_samples is not None:
        int_at_least(num_samples, "num_samples", 2)
        if info.max_pool is not None and num_samples > info.max_pool:
            raise ValueError(f"num_samples: {name} has {info.max_pool:,} training images, asked for {num_samples:,}")
    number_in(val_fraction, "val_fraction", 0, 1, low_open=True)
    unknown = sorted(set(options) - info.options)
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {', '.join(map(str, unknown))}; allowed: "
                         f"{', '.join(sorted(info.options))}")
    if options.get("num_test_samples") is not None:
        int_at_least(options["num_test_samples"], "num_test_samples", 1)
    if "generator_seed" in options:
        limits.check_seed(options["generator_seed"], "generator_seed")
    if "kind" in options and options["kind"] not in TOY2D_KINDS:
        raise ValueError(f"kind: unknown toy2d kind {quote(options['kind'])}; known kinds: {', '.join(TOY2D_KINDS)}")
    noise = options.get("noise", 0.0)
    number_in(noise, "noise", 0, None)
    if options.get("num_workers") is not None:
        limits.check_workers(int_at_least(options["num_workers"], "num_workers", 0), "num_workers")
    pool = info.default_pool if num_samples is None else num_samples
    test = CIFAR_TEST if info.max_pool else options.get("num_test_samples") or max(pool // 4, 1)
    limits.check_data(pool + test, info.bytes_per_sample, "data",
                      f"{name} samples ({pool:,} train+validation, {test:,} test)")
    return info






__all__ = ["DATASETS", "TOY2D_KINDS", "MACROS", "MACRO_INPUT_DIMS", "INFO", "DatasetInfo", "check_request"]
