"""fit(): determinism, divergence, early stop, exact resume, schedules, FLOPs, config validation."""
from __future__ import annotations

import io
import json
import math

import pytest
import torch
from torch import nn

from nas.data import load_dataset
from nas.train import (SCHEDULES, TrainConfig, TrainResult, evaluate, fit, forward_flops, make_scheduler,
                       resolve_device, seeded)

TIMING_KEYS = {"epoch_time", "samples_per_s"}
pytestmark = pytest.mark.usefixtures("single_thread")


def _without_times(history):
    return [{k: v for k, v in h.items() if k not in TIMING_KEYS} for h in history]


def small_conv(seed=0):
    """A stand-in for a scheme network on MNIST-1D (N, 1, 40): conv, batch norm, a dropout draw."""
    with seeded(seed):
        return nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.1),
                             nn.AdaptiveAvgPool1d(4), nn.Flatten(), nn.Linear(32, 10))


def small_mlp(seed=0, width=16):
    with seeded(seed):
        return nn.Sequential(nn.Linear(2, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, 2))


@pytest.fixture(scope="module")
def circles():
    return load_dataset("toy2d", kind="circles", num_samples=400, noise=0.05)


FAST = dict(epochs=3, batch_size=32, lr=0.05, device="cpu")


# ------------------------------------------------------------------------------------------ behaviour
def test_two_runs_with_the_same_seed_give_identical_metrics(small_mnist1d):
    config = TrainConfig(**FAST, seed=5)
    first, second = fit(small_conv(), small_mnist1d, config), fit(small_conv(), small_mnist1d, config)
    assert first.status == second.status == "completed" and first.epochs_run == 3
    assert _without_times(first.history) == _without_times(second.history)
    other = fit(small_conv(), small_mnist1d, config.replace(seed=6))
    assert _without_times(other.history) != _without_times(first.history)


def test_fit_leaves_the_callers_generator_alone(circles):
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    fit(small_mlp(), circles, TrainConfig(**FAST))
    assert torch.equal(torch.rand(3), expected)


def test_a_small_network_learns_two_circles(circles):
    result = fit(small_mlp(), circles, TrainConfig(epochs=15, batch_size=32, lr=0.1, device="cpu"))
    assert result.status == "completed"
    assert result.history[0]["train_loss"] > result.history[-1]["train_loss"]
    assert result.final_val_acc >= 0.95
    assert evaluate(small_mlp(seed=1), circles.test)["acc"] < 0.9  # an untrained network does not


def test_metrics_and_result_fields(circles):
    result = fit(small_mlp(), circles, TrainConfig(**FAST))
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    for h in result.history:
        assert set(h) == {"epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time",
                          "samples_per_s"}
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["val_acc"] <= 1 and h["epoch_time"] > 0
    assert result.final_val_acc == result.history[-1]["val_acc"]
    assert result.best_val_acc == max(h["val_acc"] for h in result.history)
    assert result.best_val_loss == min(h["val_loss"] for h in result.history)
    assert result.train_time >= sum(h["epoch_time"] for h in result.history) - 1e-9
    assert result.device == "cpu" and result.config == TrainConfig(**FAST).to_dict()
    # Validation metrics of the returned model equal evaluate() on the validation split.
    model = small_mlp()
    result = fit(model, circles, TrainConfig(**FAST))
    assert evaluate(model, circles.val) == pytest.approx({"loss": result.final_val_loss, "acc": result.final_val_acc})


def test_params_and_flops_known_values(circles):
    result = fit(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)), circles, TrainConfig(**FAST))
    assert result.params == (2 * 8 + 8) + (8 * 2 + 2)
    assert result.flops == 2 * 2 * 8 + 2 * 8 * 2  # two matmuls, 2·in·out per sample each
    conv = nn.Conv1d(1, 4, 3, padding=1, bias=False)
    assert forward_flops(conv, torch.zeros(2, 1, 40)) == 2 * 40 * 4 * 3  # 2 · L · C_out · C_in · k


def test_evaluate_known_values():
    class Zero(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.zeros(x.shape[0], 4)

    from nas.data import TensorSplit
    split = TensorSplit(torch.zeros(10, 3), torch.tensor([0, 0, 0, 1, 2, 3, 3, 1, 2, 0]))
    # Uniform logits: loss log 4; argmax picks class 0, which 4 of the 10 labels are.
    assert evaluate(Zero(), split, batch_size=3) == pytest.approx({"loss": math.log(4), "acc": 0.4})


class Poisonable(nn.Module):
    """Wraps a model; once ``poisoned`` its outputs are NaN."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.poisoned = inner, False

    def forward(self, x):
        out = self.inner(x)
        return out * float("nan") if self.poisoned else out


def test_nan_loss_stops_at_once_with_status_diverged(circles):
    model = Poisonable(small_mlp())
    model.poisoned = True
    result = fit(model, circles, TrainConfig(**FAST))
    assert result.status == "diverged" and result.epochs_run == 0 and result.history == ()
    assert result.final_val_acc is None and "nan" in result.message

    model = Poisonable(small_mlp())
    before = {}

    def poison_after_first_epoch(metrics, checkpoint):
        before.update({name: p.detach().clone() for name, p in model.named_parameters()})
        model.poisoned = True

    result = fit(model, circles, TrainConfig(**FAST), callback=poison_after_first_epoch)
    assert result.status == "diverged" and result.epochs_run == 1
    assert result.final_val_acc == result.history[0]["val_acc"] and "epoch 2" in result.message
    # Stopped before any step on the NaN loss: the weights are those after epoch 1.
    for name, value in model.named_parameters():
        assert torch.equal(value, before[name]), name


def test_a_huge_learning_rate_diverges_without_raising(circles):
    result = fit(small_mlp(), circles, TrainConfig(epochs=5, batch_size=32, lr=1e30, momentum=0, nesterov=False,
                                                   schedule="constant", device="cpu"))
    assert result.status == "diverged" and result.epochs_run < 5
    assert all(math.isfinite(h["train_loss"]) for h in result.history)


@pytest.mark.parametrize("decision", [False, "stop"])
def test_callback_can_stop_training(circles, decision):
    seen = []

    def stop_after_two(metrics, checkpoint):
        seen.append(metrics["epoch"])
        return decision if metrics["epoch"] == 2 else None

    result = fit(small_mlp(), circles, TrainConfig(**FAST, seed=1), callback=stop_after_two)
    assert result.status == "stopped" and result.epochs_run == 2 and seen == [1, 2]


def test_resume_from_a_checkpoint_continues_exactly(small_mnist1d):
    config = TrainConfig(epochs=4, batch_size=64, lr=0.05, device="cpu", seed=2)
    full_model = small_conv()
    full = fit(full_model, small_mnist1d, config)

    saved = {}

    def stop_after_two(metrics, checkpoint):
        if metrics["epoch"] == 2:
            saved.update(checkpoint())
            return "stop"

    fit(small_conv(), small_mnist1d, config, callback=stop_after_two)
    # What a Ray Tune checkpoint does: a round trip through torch.save / torch.load (tensors and plain
    # Python values only, so the safe weights_only loader reads it).
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)

    torch.manual_seed(99)  # unrelated global state must not matter
    resumed_model = small_conv(seed=7)  # different initial weights: all of them come from the checkpoint
    resumed = fit(resumed_model, small_mnist1d, config, resume=checkpoint)
    assert resumed.status == "completed" and resumed.epochs_run == 4
    assert _without_times(resumed.history) == _without_times(full.history)
    for name, value in full_model.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[name], value), name


def test_checkpoint_does_not_alias_live_state(circles):
    snapshots = []
    fit(small_mlp(), circles, TrainConfig(**FAST), callback=lambda m, checkpoint: snapshots.append(checkpoint()))
    first, last = snapshots[0]["model"], snapshots[-1]["model"]
    assert snapshots[0]["epoch"] == 1 and snapshots[-1]["epoch"] == 3
    assert not torch.equal(first["0.weight"], last["0.weight"])


def test_resume_rejects_a_different_config(circles):
    saved = []
    fit(small_mlp(), circles, TrainConfig(**FAST), callback=lambda m, c: saved.append(c()) or "stop")
    with pytest.raises(ValueError, match="resume.config: .*lr"):
        fit(small_mlp(), circles, TrainConfig(**{**FAST, "lr": 0.1}), resume=saved[0])
    with pytest.raises(ValueError, match="resume checkpoint: unknown key"):
        fit(small_mlp(), circles, TrainConfig(**FAST), resume={**saved[0], "extra": 1})


def test_augmentation_changes_training_batches(small_mnist1d):
    on = fit(small_conv(), small_mnist1d, TrainConfig(**FAST, augment=True))
    off = fit(small_conv(), small_mnist1d, TrainConfig(**FAST, augment=False))
    assert on.history[0]["train_loss"] != off.history[0]["train_loss"]


def test_bf16_autocast_runs_on_cpu(circles):
    result = fit(small_mlp(), circles, TrainConfig(**{**FAST, "epochs": 1}, bf16=True))
    assert result.status == "completed" and math.isfinite(result.final_val_loss)


# ------------------------------------------------------------------------------------------ schedules
def _lrs(config, steps_per_epoch):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=config.lr, momentum=0.9)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    lrs = []
    for _ in range(config.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return lrs


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    lrs = _lrs(TrainConfig(epochs=8, lr=0.1, schedule="step"), steps_per_epoch=3)
    per_epoch = [lrs[3 * e] for e in range(8)]
    assert per_epoch == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2, rel=1e-12)
    assert len(set(lrs[12:15])) == 1  # changes only at epoch boundaries
    # The paper's 160 epochs: milestones at 80 and 120.
    lrs = _lrs(TrainConfig(epochs=160, lr=0.1, schedule="step"), steps_per_epoch=1)
    assert (lrs[79], lrs[80], lrs[119], lrs[120]) == pytest.approx((0.1, 0.01, 0.01, 0.001), rel=1e-12)


def test_cosine_onecycle_and_constant_schedules():
    lrs = _lrs(TrainConfig(epochs=10, lr=0.2, schedule="cosine"), steps_per_epoch=10)
    assert lrs[0] == 0.2 and lrs[50] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.2 * (1 + math.cos(
        math.pi * 99 / 100)) / 2)
    lrs = _lrs(TrainConfig(epochs=10, lr=0.2, schedule="onecycle"), steps_per_epoch=10)
    assert max(lrs) == pytest.approx(0.2) and lrs.index(max(lrs)) == 29  # peak after 30% of the run
    assert lrs[0] == pytest.approx(0.2 / 25) and lrs[-1] < lrs[0]
    assert set(_lrs(TrainConfig(epochs=2, lr=0.3, schedule="constant"), steps_per_epoch=4)) == {0.3}


def test_history_records_the_schedule(circles):
    result = fit(small_mlp(), circles, TrainConfig(epochs=4, batch_size=32, lr=0.1, schedule="step", device="cpu"))
    assert [h["lr"] for h in result.history] == pytest.approx([0.1, 0.1, 0.01, 0.001], rel=1e-12)


# ------------------------------------------------------------------------------------- config, input
def test_config_json_round_trip_is_exact():
    config = TrainConfig(epochs=7, batch_size=64, lr=1, momentum=0.8, nesterov=False, weight_decay=0,
                         schedule="cosine", label_smoothing=0.1, augment=False, seed=3, device="cpu", bf16=True)
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config and TrainConfig.from_dict(data).to_dict() == data
    assert isinstance(config.lr, float)


def test_result_json_round_trip(circles):
    result = fit(small_mlp(), circles, TrainConfig(**FAST))
    data = json.loads(json.dumps(result.to_dict()))
    assert TrainResult.from_dict(data) == result


@pytest.mark.parametrize("changes, match", [
    ({"epochs": 0}, "epochs"), ({"epochs": 2.5}, "epochs"), ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -3}, "batch_size"), ({"lr": 0}, "lr"), ({"lr": float("nan")}, "lr"),
    ({"schedule": "linear"}, "schedule: must be one of step, cosine, onecycle, constant"),
    ({"momentum": 1.0}, "momentum"), ({"momentum": 0, "nesterov": True}, "nesterov"),
    ({"weight_decay": -1}, "weight_decay"), ({"label_smoothing": 1}, "label_smoothing"),
    ({"device": "tpu"}, "device"), ({"augment": "yes"}, "augment"), ({"seed": -1}, "seed"),
    ({"eval_batch_size": 0}, "eval_batch_size"),
])
def test_bad_config_names_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**changes)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown key"):
        TrainConfig.from_dict({"epochs": 3, "learning_rate": 0.1})


def test_cuda_is_never_requested_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="cuda"):
        resolve_device("cuda")


def test_flops_counted_by_the_caller_are_not_counted_again(circles, monkeypatch):
    import nas.train

    def counted_twice(model, example):
        raise AssertionError("fit counted FLOPs the caller had already counted")

    monkeypatch.setattr(nas.train, "forward_flops", counted_twice)
    result = fit(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)), circles, TrainConfig(**{**FAST, "epochs": 1}),
                 flops=64)
    assert result.flops == 64
