"""Budgets (nas.limits): estimates on the meta device equal what is really built, refusals name the estimate,
environment variables raise the budgets, and every shipped search space fits the defaults."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas import limits, schemes
from nas.data import load_dataset
from nas.data_info import INFO, check_request
from nas.network_kinds import build_network, check, check_state_dict, estimate
from nas.networks import NetworkSpec
from nas.schemes.noise import NoiseSchedule
from nas.search.budget import check_space
from nas.search.space import load_space

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"sequence": (1, 40), "image": (3, 8, 8), "mlp": (2,)}


def _spec(name, macro, **changes):
    return NetworkSpec(**{"scheme": name, "macro": macro, "widths": (4, 8), "steps_per_stage": 2, **changes})


def _real_activations(model, shape) -> int:
    """Float32 bytes of every leaf layer's output for one sample, on a real forward (training mode)."""
    total = [0]
    hooks = [m.register_forward_hook(lambda m, i, o: total.__setitem__(0, total[0] + o.numel()))
             for m in model.modules() if not any(True for _ in m.children())]
    model.train()
    with torch.no_grad():
        model(torch.randn((2, *shape)))
    for hook in hooks:
        hook.remove()
    return total[0] // 2 * 4


# every registered scheme, the three macro-architectures in turn
PAIRS = [(name, tuple(SHAPES)[i % len(SHAPES)]) for i, name in enumerate(schemes.names())]


@pytest.mark.parametrize("name, macro", PAIRS, ids=[f"{n}-{m}" for n, m in PAIRS])
def test_meta_estimate_equals_the_built_network(name, macro, single_thread):
    noise = NoiseSchedule(kind="stochastic_depth", shape="linear", p_L=0.5)
    spec = _spec(name, macro, noise=noise)
    counted = estimate(spec, SHAPES[macro])
    model = build_network(spec)
    assert counted.params == sum(p.numel() for p in model.parameters())
    assert counted.activation_bytes_per_sample == _real_activations(model, SHAPES[macro])
    fixed = sum(p.numel() for part in (model.stem, model.transitions, model.head) for p in part.parameters())
    assert limits.fixed_layer_params(macro, spec.in_channels, spec.num_classes, spec.widths) == fixed


def test_building_allocates_nothing_before_refusing(monkeypatch):
    spec = _spec("euler", "sequence", widths=(20_000,))  # one stage: counted on the meta device, 4.8e9 (19 GB)
    with pytest.raises(ValueError, match=r": 4,800,\d{3},\d{3} parameters; the budget is 100,000,000 parameters "
                                         r"\(set NAS_MAX_PARAMS to raise it\)"):
        build_network(spec)
    monkeypatch.setenv("NAS_MAX_PARAMS", "5e9")
    assert check(spec).params > 4.8e9  # raised budget: the estimate passes (nothing built here)


def test_activation_budget_and_its_variable(monkeypatch):
    spec = _spec("rk4", "image", widths=(16, 32, 64), steps_per_stage=4)
    per_sample = estimate(spec, (3, 32, 32)).activation_bytes_per_sample
    batch = int(16e9 // per_sample) + 1
    with pytest.raises(ValueError, match=rf"of activations per training batch \(.* per sample × batch size "
                                         rf"{batch:,}\); the budget is 16 GB \(set NAS_MAX_ACTIVATION_GB"):
        check(spec, input_shape=(3, 32, 32), batch_size=batch)
    check(spec, input_shape=(3, 32, 32), batch_size=batch - 1)
    monkeypatch.setenv("NAS_MAX_ACTIVATION_GB", "1e6")
    check(spec, input_shape=(3, 32, 32), batch_size=batch * 1000)


def test_depth_limit_and_bad_budget_variables(monkeypatch):
    with pytest.raises(ValueError, match="2,000 scheme steps .* at most 1,000 steps per network"):
        build_network(_spec("euler", "mlp", steps_per_stage=1000))
    for value in ("lots", "-1", "0", "nan", "inf"):
        monkeypatch.setenv("NAS_MAX_PARAMS", value)
        with pytest.raises(ValueError, match="NAS_MAX_PARAMS: must be a positive number"):
            build_network(_spec("euler", "mlp"))


def test_weights_are_checked_against_the_spec():
    spec = _spec("lm_resnet", "sequence")
    state = build_network(spec).state_dict()
    check_state_dict(spec, state, "w")
    with pytest.raises(ValueError, match="missing stages.0.learned_k.0"):
        check_state_dict(spec, {k: v for k, v in state.items() if k != "stages.0.learned_k.0"}, "w")
    with pytest.raises(ValueError, match="unexpected extra"):
        check_state_dict(spec, {**state, "extra": torch.zeros(1)}, "w")
    with pytest.raises(ValueError, match=r"stem.layer.weight has shape \[1\], the network needs \[4, 1, 3\]"):
        check_state_dict(spec, {**state, "stem.layer.weight": torch.zeros(1)}, "w")


def test_data_description_matches_the_loaded_data(small_mnist1d, cifar_folder):
    root, *_ = cifar_folder("cifar100")
    for data in (small_mnist1d, load_dataset("toy2d", num_samples=40), load_dataset("cifar100", root=root)):
        info = INFO[data.name]
        assert (data.input_shape, data.num_classes, data.in_channels, data.macro) == \
            (info.input_shape, info.num_classes, info.in_channels, info.macro)


def test_data_budget_and_its_variable(monkeypatch):
    with pytest.raises(ValueError, match=r"data: 5,000,000 mnist1d samples \(4,000,000 train\+validation, 1,000,000 "
                                         r"test\) need about 5 GB in memory .* the budget is 4 GB"):
        check_request("mnist1d", num_samples=4_000_000)
    monkeypatch.setenv("NAS_MAX_DATA_GB", "5.5")
    assert check_request("mnist1d", num_samples=4_000_000) is INFO["mnist1d"]
    with pytest.raises(ValueError, match="num_samples: cifar10 has 50,000 training images, asked for 60,000"):
        check_request("cifar10", num_samples=60_000)
    for seed in (-1, 2**32, True, 1.5):
        with pytest.raises(ValueError, match=r"seed: must be an integer in 0\.\.4294967295"):
            check_request("mnist1d", seed=seed)


@pytest.mark.parametrize("path", sorted((ROOT / "search_spaces").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_spaces_fit_the_default_budgets(path):
    space = load_space(path)
    assert check_space(space, INFO[space.data["name"]]) >= 1


def test_space_budget_names_the_option(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("scheme: [{family: named, label: small, names: [euler]}, {family: runge_kutta, label: big, "
                    "stages: [1, 4]}]\n"
                    "network: {widths: {choices: [[8, 16], [3000, 3000]]}, steps_per_stage: [1, 8]}\n")
    space = load_space(path)
    with pytest.raises(ValueError, match=r"wide.yaml: option small: network with widths 3000,3000, 8 step\(s\) "
                                         r"per stage: \d[\d,]+ parameters; the budget"):
        check_space(space, INFO["mnist1d"])


def test_estimate_leaves_the_random_stream_alone():
    state = torch.get_rng_state()
    estimate(_spec("euler", "sequence", noise=NoiseSchedule(kind="dropout", shape="constant", p_L=0.5)), (1, 40))
    assert torch.equal(state, torch.get_rng_state())
