"""torchvision's CIFAR datasets as ``nas.data`` reads them: with or without checking the files' MD5 sums.

A module of its own so that ``nas.data`` imports torchvision only when it loads CIFAR.
"""
from __future__ import annotations

from torchvision.datasets import CIFAR10, CIFAR100


def _without_md5(files: list) -> list:
    return [[file, None] for file, _ in files]


# torchvision checks the MD5 of every file even with download=False; without verify_md5 only the files'
# presence is checked (nas.data did that already), so folders written in the same format load too.
class UnverifiedCIFAR10(CIFAR10):
    """CIFAR-10 that checks only that its files exist."""

    train_list = _without_md5(CIFAR10.train_list)
    test_list = _without_md5(CIFAR10.test_list)
    meta = {**CIFAR10.meta, "md5": None}


class UnverifiedCIFAR100(CIFAR100):
    """CIFAR-100 that checks only that its files exist."""

    train_list = _without_md5(CIFAR100.train_list)
    test_list = _without_md5(CIFAR100.test_list)
    meta = {**CIFAR100.meta, "md5": None}


# (data set name, verify MD5 sums) -> the torchvision dataset class that reads it
CIFAR_CLASSES = {("cifar10", True): CIFAR10, ("cifar10", False): UnverifiedCIFAR10,
                 ("cifar100", True): CIFAR100, ("cifar100", False): UnverifiedCIFAR100}

__all__ = ["CIFAR_CLASSES", "UnverifiedCIFAR10", "UnverifiedCIFAR100"]
