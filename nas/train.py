"""The training loop every trial runs: ``fit(model, data, config) -> TrainResult``.

SGD with momentum (optionally Nesterov, Sutskever et al. 2013) and weight decay, cross-entropy with optional
label smoothing (Szegedy et al. 2016), and one of four learning-rate schedules, stepped once per batch:

- ``step``: the LM-ResNet schedule (Lu et al. 2018, after He et al. 2016): lr divided by 10 after 50% and
  after 75% of the epochs (160 epochs: at 80 and 120);
- ``cosine``: cosine annealing to 0 over the run (Loshchilov & Hutter 2017), no restarts;
- ``onecycle``: one cycle (Smith & Topin 2019) peaking at ``lr`` after 30% of the run;
- ``constant``.

Determinism: all randomness inside ``fit`` (shuffling, augmentation, and stochastic layers that draw from
torch's global generator) is seeded from ``config.seed`` inside ``torch.random.fork_rng``, so the caller's
generator state is untouched and two CPU runs with the same seed give identical metrics. Build the model
under ``seeded(seed)`` to make its initialisation reproducible too.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Callable

import torch
from torch import nn

from .checks import flag, number_in, positive_int
from .limits import MAX_EPOCHS, check_count, check_seed
from .schemes.serialization import check_keys
from .vocabulary import TRAIN_STATUSES as STATUSES  # fit's statuses

SCHEDULES = ("step", "cosine", "onecycle", "constant")
DEVICES = ("auto", "cpu", "cuda")
CHECKPOINT_FORMAT = "nas.train.checkpoint/1"
# Fractions of the run after which the ``step`` schedule divides the lr by 10 (LM-ResNet: 80/160, 120/160).
STEP_MILESTONES = (0.5, 0.75)
STEP_FACTOR = 0.1
# Config fields that may differ between a checkpoint and the run that resumes it (they do not change the math).
RESUMABLE_CHANGES = {"device", "eval_batch_size"}


# --------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (with the model and the data).

    Defaults follow the MNIST-1D calibration in STACK.md (SGD Nesterov, one-cycle to lr 0.05, batch 128,
    30 epochs, shift augmentation). For the LM-ResNet CIFAR recipe use ``lr=0.1, schedule="step",
    weight_decay=1e-4, nesterov=False, epochs=160``.

    ``coefficient_lr``: the learning rate of learned scheme coefficients (``NetworkSpec.learn_scheme``; their
    own optimizer group, without weight decay); None: ``lr``. Written to JSON only when set.
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    eval_batch_size: int = 1024
    coefficient_lr: float | None = None

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("epochs", check_count(self.epochs, "epochs", MAX_EPOCHS))
        for name in ("batch_size", "eval_batch_size"):
            set_(name, positive_int(getattr(self, name), name))
        set_("lr", number_in(self.lr, "lr", 0, None, low_open=True))
        set_("momentum", number_in(self.momentum, "momentum", 0, 1))
        set_("weight_decay", number_in(self.weight_decay, "weight_decay", 0, None))
        set_("label_smoothing", number_in(self.label_smoothing, "label_smoothing", 0, 1))
        for name in ("nesterov", "augment", "bf16"):
            flag(getattr(self, name), name)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0 (got momentum 0)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device: must be one of {', '.join(DEVICES)}, got {self.device!r}")
        set_("seed", check_seed(self.seed, "seed"))
        if self.coefficient_lr is not None:
            set_("coefficient_lr", number_in(self.coefficient_lr, "coefficient_lr", 0, None, low_open=True))

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig(**{**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        out = asdict(self)
        if out["coefficient_lr"] is None:  # added later: configs (and checkpoints) without it read as before
            del out["coefficient_lr"]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        check_keys(data, required=set(), optional={f.name for f in fields(cls)}, where="train config")
        return cls(**data)


@dataclass(frozen=True)
class TrainResult:
    """What a run produced. ``history`` has one dict per completed epoch (see ``fit``)."""

    status: str
    epochs_run: int
    history: tuple
    final_val_acc: float | None
    final_val_loss: float | None
    best_val_acc: float | None
    best_val_loss: float | None
    best_epoch: int | None
    train_time: float
    params: int
    flops: int
    device: str
    message: str = ""
    config: dict | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status: must be one of {', '.join(STATUSES)}, got {self.status!r}")
        object.__setattr__(self, "history", tuple(dict(h) for h in self.history))

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["history"] = [dict(h) for h in self.history]
        out["config"] = None if self.config is None else dict(self.config)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrainResult":
        names = {f.name for f in fields(cls)}
        check_keys(data, required=names - {"message", "config"}, optional={"message", "config"},
                   where="train result")
        return cls(**data)


# ------------------------------------------------------------------------------------------- helpers
def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when ``torch.cuda.is_available()``, else CPU; ``cuda`` without a GPU is an error."""
    if name not in DEVICES:
        raise ValueError(f"device: must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but torch.cuda.is_available() is False; use 'auto' or 'cpu'")
    return torch.device(name)


def _rng_devices(device: torch.device) -> list:
    return [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []


@contextlib.contextmanager
def seeded(seed: int, device: str | torch.device = "cpu"):
    """Run a block (e.g. building a model) with torch's generators seeded, restoring them afterwards."""
    device = torch.device(device)
    with torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(seed)
        yield


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_flops(model: nn.Module, example: torch.Tensor) -> int:
    """Forward FLOPs per sample in eval mode (``torch.utils.flop_counter``: a matmul counts 2·M·N·K)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // int(example.shape[0])


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def evaluate(model: nn.Module, split, batch_size: int = 1024, *, bf16: bool = False) -> dict:
    """Mean cross-entropy (no label smoothing) and accuracy of ``model`` on a split, in eval mode.

    Use it for the test split at the end of a run; the search only ever looks at validation.
    """
    batch_size = positive_int(batch_size, "batch_size")
    if len(split) == 0:
        raise ValueError("split: cannot evaluate on an empty split")
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    try:
        with torch.no_grad():
            for xb, yb in split.batches(batch_size, device=device):
                with _autocast(device, bf16):
                    logits = model(xb)
                logits = logits.float()
                loss_sum += nn.functional.cross_entropy(logits, yb, reduction="sum")
                correct += (logits.argmax(1) == yb).sum()
    finally:
        model.train(was_training)
    n = len(split)
    return {"loss": loss_sum.item() / n, "acc": correct.item() / n}


def _num_train_batches(n: int, batch_size: int) -> int:
    # A last batch of one sample is dropped (batch norm cannot train on it): see TensorSplit.batches (n >= 2).
    return n // batch_size + (1 if n % batch_size > 1 else 0)


def _coefficient_parameters(model: nn.Module) -> list:
    """(name, parameter) of the learned scheme coefficients of ``model`` (each once)."""
    from .networks.learned import is_coefficient_parameter

    return [(name, p) for name, p in model.named_parameters() if is_coefficient_parameter(name)]


def make_optimizer(model: nn.Module, config: TrainConfig):
    """SGD over ``model``'s parameters. Learned scheme coefficients (``NetworkSpec.learn_scheme``,
    ``nas.networks.learned``) form a second group with their own learning rate (``coefficient_lr``, default
    ``lr``) and no weight decay: decay would pull them towards θ = 0, an arbitrary point of the scheme family.
    Without them the optimizer is the single group it always was."""
    from .networks.learned import is_coefficient_parameter

    named = list(model.named_parameters())
    coefficients = [p for name, p in named if is_coefficient_parameter(name)]
    if not coefficients:
        params = model.parameters()
    else:
        weights = [p for name, p in named if not is_coefficient_parameter(name)]
        lr = config.lr if config.coefficient_lr is None else config.coefficient_lr
        params = [{"params": weights}, {"params": coefficients, "lr": lr, "weight_decay": 0.0}]
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                           weight_decay=config.weight_decay)


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """The per-batch learning-rate scheduler of ``config.schedule`` (None for ``constant``)."""
    from torch.optim import lr_scheduler

    total = config.epochs * steps_per_epoch
    if config.schedule == "constant":
        return None
    if config.schedule == "step":
        milestones = sorted({int(config.epochs * f) * steps_per_epoch for f in STEP_MILESTONES} - {0})
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=STEP_FACTOR)
    if config.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    # Momentum stays what the config says (no momentum cycling), so the config alone describes the run.
    peaks = [group["lr"] for group in optimizer.param_groups]  # each group peaks at its own lr
    return lr_scheduler.OneCycleLR(optimizer, max_lr=peaks if len(peaks) > 1 else config.lr, total_steps=total,
                                   cycle_momentum=False)


def _to_cpu(obj):
    """A deep copy with every tensor cloned to the CPU (a checkpoint must not alias live training state)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return copy.deepcopy(obj)


def _wants_stop(decision) -> bool:
    return decision is False or (isinstance(decision, str) and decision == "stop")


# ----------------------------------------------------------------------------------------------- fit
def fit(model: nn.Module, data, config: TrainConfig | None = None,
        callback: Callable | None = None, resume: dict | None = None, *, flops: int | None = None) -> TrainResult:
    """Train ``model`` on ``data.train``, score ``data.val`` after every epoch; never touches ``data.test``.

    Per epoch, ``history`` gets ``{"epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
    "epoch_time", "samples_per_s"}`` (``lr`` at the epoch's start; ``samples_per_s`` over the training
    phase; ``train_loss`` is the objective, label smoothing included, on the augmented batches; validation
    uses plain cross-entropy), and for a network with learned scheme coefficients ``"coefficients"``: parameter
    name -> its free parameters θ at the end of the epoch (``nas.networks.learned.coefficient_trajectory``). Then ``callback(metrics, checkpoint_fn)`` is called; ``checkpoint_fn()``
    returns a dict (model, optimizer, scheduler, generators, history) that ``fit(..., resume=that_dict)``
    continues from exactly; a callback returning ``False`` or ``"stop"`` ends the run with status ``stopped``. The checkpoint holds
    only tensors (on the CPU) and plain Python values: ``torch.save`` it, ``torch.load(weights_only=True)`` it.

    ``flops``: the model's forward FLOPs per sample when the caller has counted them (``forward_flops``),
    so they are counted once per run; None counts them here.

    A non-finite training or validation loss ends the run at once with status ``diverged``: that epoch is
    not recorded, the result keeps the last finite metrics, and nothing is raised.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    device = resolve_device(config.device)
    model.to(device)
    train_split, val_split = data.train.to(device), data.val.to(device)
    if len(train_split) < 2 or len(val_split) == 0:
        raise ValueError(f"data: need >= 2 training and >= 1 validation samples, got {len(train_split)} and "
                         f"{len(val_split)}")

    params = count_parameters(model)
    if flops is None:
        example, _ = next(iter(val_split.batches(2, device=device)))
        flops = forward_flops(model, example)

    training = _Training(model, config, train_split, val_split, device)
    with torch.random.fork_rng(devices=training.rng_devices):
        torch.manual_seed(config.seed)
        if resume is not None:
            training.start_epoch, training.train_time = _restore(
                resume, config, model, training.optimizer, training.scheduler, training.generator,
                training.rng_devices, training.history)
        status, message = training.run(callback)
    return _result(status, message, training.history, training.train_time, params, flops, device, config)


class _Training:
    """The state of one ``fit``: optimiser, schedule, shuffling generator, history; ``run`` trains epoch by epoch
    (prepare in ``__init__``, execute in ``run`` / ``train_epoch``, the result is ``fit``'s)."""

    def __init__(self, model: nn.Module, config: TrainConfig, train_split, val_split, device):
        self.model, self.config, self.device = model, config, device
        self.train_split, self.val_split = train_split, val_split
        self.optimizer = make_optimizer(model, config)
        self.coefficients = _coefficient_parameters(model)
        steps_per_epoch = _num_train_batches(len(train_split), config.batch_size)
        self.scheduler = make_scheduler(self.optimizer, config, steps_per_epoch)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.generator = torch.Generator().manual_seed(config.seed)  # shuffling and augmentation
        self.rng_devices = _rng_devices(device)
        self.history: list[dict] = []
        self.train_time = 0.0
        self.start_epoch = 0

    def checkpoint(self) -> dict:
        """Everything ``fit(..., resume=...)`` needs to continue exactly (tensors on the CPU)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "epoch": len(self.history),
            "model": _to_cpu(self.model.state_dict()),
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "scheduler": None if self.scheduler is None else _to_cpu(self.scheduler.state_dict()),
            "rng": {"torch": torch.get_rng_state(), "generator": self.generator.get_state(),
                    "cuda": [torch.cuda.get_rng_state(d) for d in self.rng_devices]},
            "history": [dict(h) for h in self.history],
            "train_time": self.train_time,
        }

    def run(self, callback) -> tuple[str, str]:
        """Train the remaining epochs; (status, message) when done, diverged or stopped by ``callback``."""
        for epoch in range(self.start_epoch, self.config.epochs):
            lr = self.optimizer.param_groups[0]["lr"]
            started = time.perf_counter()
            train, message = self.train_epoch(epoch)
            if message:
                return "diverged", message
            train_phase = time.perf_counter() - started
            val = evaluate(self.model, self.val_split, self.config.eval_batch_size, bf16=self.config.bf16)
            epoch_time = time.perf_counter() - started
            self.train_time += epoch_time
            if not math.isfinite(val["loss"]):
                return "diverged", f"validation loss became {val['loss']} at epoch {epoch + 1}"
            loss_sum, correct, seen = train
            metrics = {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / seen, "train_acc": correct.item() / seen,
                       "val_loss": val["loss"], "val_acc": val["acc"], "epoch_time": epoch_time,
                       "samples_per_s": seen / train_phase if train_phase > 0 else float("inf")}
            if self.coefficients:  # learned scheme coefficients: their trajectory over epochs
                metrics["coefficients"] = {name: p.detach().cpu().tolist() for name, p in self.coefficients}
            self.history.append(metrics)
            if callback is not None:
                # The callback may use torch's generator (e.g. a reporter): keep the training stream unchanged.
                with torch.random.fork_rng(devices=self.rng_devices):
                    decision = callback(dict(metrics), self.checkpoint)
                if _wants_stop(decision):
                    return "stopped", f"stopped by the callback after epoch {epoch + 1}"
        return "completed", ""

    def train_epoch(self, epoch: int):
        """One pass over the training split: ((loss sum, correct, samples), "") or (None, why it diverged)."""
        model, config = self.model, self.config
        model.train()
        loss_sum = 0.0
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = 0
        for xb, yb in self.train_split.batches(config.batch_size, shuffle=True, generator=self.generator,
                                               augment=config.augment, device=self.device, drop_singleton=True):
            with _autocast(self.device, config.bf16):
                logits = model(xb)
                loss = self.criterion(logits, yb)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                return None, (f"training loss became {loss_value} at epoch {epoch + 1}, "
                              f"after {seen} samples of that epoch")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            n = yb.shape[0]
            loss_sum += loss_value * n
            correct += (logits.argmax(1) == yb).sum()
            seen += n
        return (loss_sum, correct, seen), ""


def _restore(resume: dict, config: TrainConfig, model, optimizer, scheduler, generator, rng_devices, history):
    required = {"format", "config", "epoch", "model", "optimizer", "scheduler", "rng", "history", "train_time"}
    check_keys(resume, required=required, optional=set(), where="resume checkpoint")
    if resume["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"resume.format: expected {CHECKPOINT_FORMAT!r}, got {resume['format']!r}")
    saved = TrainConfig.from_dict(resume["config"]).to_dict()
    changed = sorted(k for k, v in config.to_dict().items() if saved.get(k) != v and k not in RESUMABLE_CHANGES)
    if changed:
        raise ValueError(f"resume.config: the checkpoint was made with different {', '.join(changed)}; only "
                         f"{', '.join(sorted(RESUMABLE_CHANGES))} may change on resume")
    epoch = resume["epoch"]
    if not isinstance(epoch, int) or not 0 <= epoch <= config.epochs or len(resume["history"]) != epoch:
        raise ValueError(f"resume.epoch: expected 0..{config.epochs} matching the history, got {epoch!r}")
    if (resume["scheduler"] is None) != (scheduler is None):
        raise ValueError("resume.scheduler: does not match the config's schedule")
    model.load_state_dict(resume["model"])
    optimizer.load_state_dict(resume["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(resume["scheduler"])
    rng = resume["rng"]
    torch.set_rng_state(rng["torch"])
    generator.set_state(rng["generator"])
    for device_index, state in zip(rng_devices, rng.get("cuda", [])):
        torch.cuda.set_rng_state(state, device_index)
    history.extend(dict(h) for h in resume["history"])
    return epoch, float(resume["train_time"])


def _result(status, message, history, train_time, params, flops, device, config) -> TrainResult:
    last = history[-1] if history else None
    best = max(history, key=lambda h: (h["val_acc"], -h["val_loss"])) if history else None
    return TrainResult(
        status=status,
        epochs_run=len(history),
        history=tuple(history),
        final_val_acc=None if last is None else last["val_acc"],
        final_val_loss=None if last is None else last["val_loss"],
        best_val_acc=None if best is None else best["val_acc"],
        best_val_loss=None if not history else min(h["val_loss"] for h in history),
        best_epoch=None if best is None else best["epoch"],
        train_time=train_time,
        params=params,
        flops=flops,
        device=str(device),
        message=message,
        config=config.to_dict(),
    )


__all__ = ["TrainConfig", "TrainResult", "fit", "evaluate", "seeded", "resolve_device", "forward_flops",
           "count_parameters", "make_scheduler", "SCHEDULES", "DEVICES", "STATUSES", "CHECKPOINT_FORMAT"]
