"""The ``data`` and ``train`` sections: constants handed on to ``nas.data.load_dataset`` and
``nas.train.TrainConfig``, checked when the space is read so that a bad value fails before any trial runs."""
from __future__ import annotations

from nas.limits import MAX_SEED
from nas.messages import quote

from nas.domains import SpaceError, check_mapping, check_scalar, fail


def parse_data(raw, path: str = "data") -> dict:
    """The ``data`` section (None: mnist1d with its defaults) as keyword arguments of ``load_dataset``."""
    from nas.data import DATASETS

    raw = {"name": "mnist1d"} if raw is None else raw
    if not isinstance(raw, dict):
        raise fail(path, f"expected a mapping, got {quote(raw)}")
    out = dict(raw)
    out["name"] = check_scalar(raw.get("name", "mnist1d"), f"{path}.name", "str", choices=DATASETS)
    if "seed" in raw:
        check_scalar(raw["seed"], f"{path}.seed", "int", low=0, high=MAX_SEED)
    if raw.get("num_samples") is not None:
        check_scalar(raw["num_samples"], f"{path}.num_samples", "int", low=2)
    if "val_fraction" in raw:
        check_scalar(raw["val_fraction"], f"{path}.val_fraction", "float", 0.0, 1.0)
    if raw.get("root") is not None:
        check_scalar(raw["root"], f"{path}.root", "str")
    return out


def parse_train(raw, path: str = "train") -> dict:
    """The ``train`` section (None: ``TrainConfig``'s defaults) as ``TrainConfig(...).to_dict()``."""
    from nas.train import TrainConfig

    raw = {} if raw is None else raw
    check_mapping(raw, path, set(TrainConfig.__dataclass_fields__))
    try:
        return TrainConfig(**raw).to_dict()
    except ValueError as exc:
        raise SpaceError(f"{path}.{exc}") from None


__all__ = ["parse_data", "parse_train"]
