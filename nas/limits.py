"""Budgets and bounds: requests ``nas`` refuses before it builds, allocates or generates anything.

A typo such as ``--widths 1000000,1000000`` or ``--num-samples 1000000000000`` should fail at once with the
estimate, not after minutes of swapping or with an allocation traceback. Three budgets, each raised by an
environment variable (read when checked, so ``NAS_MAX_PARAMS=2e8 nas train ...`` works for one command):

=========================  ==========  =====================================================================
variable                   default     refused when
=========================  ==========  =====================================================================
``NAS_MAX_PARAMS``         100000000   a network has more parameters (``nas.networks.estimate``, counted on
                                       torch's ``meta`` device, so nothing is allocated)
``NAS_MAX_ACTIVATION_GB``  16          one training batch keeps more float32 layer outputs for the backward
                                       pass (per-sample estimate on the ``meta`` device × batch size)
``NAS_MAX_DATA_GB``        4           a data set would take more memory (samples × bytes per sample,
                                       ``nas.data``), checked before any sample is generated or read
=========================  ==========  =====================================================================

Fixed bounds: seeds are integers in 0 … 2³² − 1 (what numpy's ``RandomState`` and Optuna's samplers
accept), a network has at most ``MAX_STEPS`` scheme steps (deeper than any published ResNet; it also
keeps the estimate itself fast), and thread or data-loader worker counts at most ``WORKERS_PER_CPU`` per CPU.

Counts a user gives are bounded too (``check_count``), before any work: each unit costs a folder, a training
run or a row held in memory, so a typo (``--seeds 1000000000``) would otherwise grow until the kernel kills
the process. ``MAX_TRIALS`` trials per search (and trials at once), ``MAX_EPOCHS`` epochs, ``MAX_SEEDS``
seeds per evaluated architecture, ``MAX_TOP`` architectures evaluated or models exported, ``MAX_RETRIES``
retries of a failed trial. Each is far above any real use.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .checks import is_int
from .messages import quote

MAX_SEED = 2**32 - 1
MAX_TRIALS = 100_000
MAX_EPOCHS = 100_000
MAX_SEEDS = 1_000
MAX_TOP = 1_000
MAX_RETRIES = 1_000
MAX_STEPS = 1000
WORKERS_PER_CPU = 4  # threads / DataLoader processes beyond this only thrash (PyTorch warns above one per CPU)


@dataclass(frozen=True)
class Budget:
    """One budget: its environment variable, default and unit (``parameters`` or ``GB``)."""

    env: str
    default: float
    unit: str

    def value(self) -> float:
        text = os.environ.get(self.env)
        if text is None or not text.strip():
            return self.default
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{self.env}: must be a positive number, got {quote(text)}")
        return value

    def describe(self) -> str:
        value = self.value()
        amount = f"{value:,.0f} {self.unit}" if self.unit == "parameters" else f"{value:g} GB"
        return f"the budget is {amount} (set {self.env} to raise it)"


PARAMS = Budget("NAS_MAX_PARAMS", 100_000_000, "parameters")
ACTIVATION_GB = Budget("NAS_MAX_ACTIVATION_GB", 16, "GB")
DATA_GB = Budget("NAS_MAX_DATA_GB", 4, "GB")
BUDGETS = (PARAMS, ACTIVATION_GB, DATA_GB)


def human_bytes(n: float) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.3g} {unit}"
    return f"{n:,.0f} bytes"


def check_seed(value, name: str = "seed") -> int:
    """An integer seed in 0 … ``MAX_SEED``."""
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name}: must be an integer in 0..{MAX_SEED} (2**32 - 1, what numpy and Optuna's "
                         f"samplers accept), got {quote(value)}")
    return int(value)


def check_count(value, name: str, maximum: int, minimum: int = 1) -> int:
    """An integer count in ``minimum`` … ``maximum`` (see the module docstring for the bounds)."""
    if not is_int(value) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name}: must be {wanted}, got {quote(value)}")
    if value > maximum:
        raise ValueError(f"{name}: {value:,} is more than the limit of {maximum:,} (nas.limits; every count is "
                         "bounded before any work)")
    return int(value)


def check_workers(value: int, name: str) -> int:
    """A count of threads or worker processes: at most ``WORKERS_PER_CPU`` per CPU of this machine."""
    cpus = os.cpu_count() or 1
    if value > WORKERS_PER_CPU * cpus:
        raise ValueError(f"{name}: {value:,} is more than {WORKERS_PER_CPU} per CPU of this machine "
                         f"({WORKERS_PER_CPU * cpus} for {cpus} CPU(s))")
    return value


def check_params(params: int, where: str) -> None:
    if params > PARAMS.value():
        raise ValueError(f"{where}: {params:,} parameters; {PARAMS.describe()}")


# Weights of one k-wide convolution (or Linear) per input-output channel pair, per macro (nas.networks.blocks).
_KERNEL = {"image": 9, "sequence": 3, "mlp": 1}


def fixed_layer_params(macro: str, in_channels: int, num_classes: int, widths) -> int:
    """Parameters of the layers every network has whatever its scheme: stem, transitions and head
    (``nas.networks.blocks``; a test keeps this count equal to theirs). A lower bound of the whole network,
    computed without torch, so an absurd width is refused before torch is even imported."""
    k = _KERNEL[macro]
    widths = [int(w) for w in widths]
    total = k * in_channels * widths[0]  # stem
    for a, b in zip(widths, widths[1:]):  # transition: BN, k-conv, BN, k-conv, 1x1 shortcut
        total += 2 * a + k * a * b + 2 * b + k * b * b + a * b
    return total + 2 * widths[-1] + widths[-1] * num_classes + num_classes  # head: BN, linear with bias


def check_depth(stages: int, steps_per_stage: int, where: str) -> None:
    """At most ``MAX_STEPS`` scheme steps in a network."""
    if stages * steps_per_stage > MAX_STEPS:
        raise ValueError(f"{where}: {stages * steps_per_stage:,} scheme steps ({stages} stage(s) × "
                         f"{steps_per_stage:,}); at most {MAX_STEPS:,} steps per network")


def check_fixed_layers(macro: str, in_channels: int, num_classes: int, widths, where: str) -> None:
    """``fixed_layer_params`` within the parameter budget (the exact count follows on the meta device)."""
    params = fixed_layer_params(macro, in_channels, num_classes, widths)
    if params > PARAMS.value():
        raise ValueError(f"{where}: at least {params:,} parameters (stem, transitions and head alone); "
                         f"{PARAMS.describe()}")


def check_activations(bytes_per_sample: int, batch_size: int, where: str) -> None:
    total = bytes_per_sample * batch_size
    if total > ACTIVATION_GB.value() * 1e9:
        raise ValueError(f"{where}: about {human_bytes(total)} of activations per training batch "
                         f"({human_bytes(bytes_per_sample)} per sample × batch size {batch_size:,}); "
                         f"{ACTIVATION_GB.describe()}")


def check_data(samples: int, bytes_per_sample: int, where: str, what: str = "samples") -> None:
    """``samples`` × ``bytes_per_sample`` within the data budget (``what`` names the samples in the message)."""
    total = samples * bytes_per_sample
    if total > DATA_GB.value() * 1e9:
        raise ValueError(f"{where}: {samples:,} {what} need about {human_bytes(total)} in memory "
                         f"({bytes_per_sample:,} bytes each); {DATA_GB.describe()}")


def budget_environment() -> dict[str, str]:
    """The budget variables set in this process (handed to Ray workers with the job)."""
    return {b.env: os.environ[b.env] for b in BUDGETS if os.environ.get(b.env)}


__all__ = ["Budget", "PARAMS", "ACTIVATION_GB", "DATA_GB", "BUDGETS", "MAX_SEED", "MAX_STEPS", "check_seed",
           "check_count", "MAX_TRIALS", "MAX_EPOCHS", "MAX_SEEDS", "MAX_TOP", "MAX_RETRIES",
           "check_workers", "WORKERS_PER_CPU",
           "check_params", "check_activations", "check_data", "budget_environment", "human_bytes",
           "fixed_layer_params", "check_fixed_layers", "check_depth"]
