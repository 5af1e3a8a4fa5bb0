"""Scheme networks: equality with hand-written networks, learned coefficients, every scheme × macro."""
import json

import pytest
import torch

from nas import schemes
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.reference import ReferenceLMResNet, ReferenceResNet, copy_weights

INPUTS = {
    "sequence": lambda n=8: torch.randn(n, 1, 40),
    "image": lambda n=4: torch.randn(n, 3, 16, 16),
    "mlp": lambda n=8: torch.randn(n, 2),
}
MACROS = list(INPUTS)


def small_spec(scheme, macro="sequence", **kw):
    kw.setdefault("widths", (8, 16))
    kw.setdefault("steps_per_stage", 3)
    return NetworkSpec(scheme=scheme, macro=macro, **kw)


def _randomise_batchnorm(model):
    # Non-trivial running statistics and affine parameters, so eval mode is really exercised.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


@pytest.mark.parametrize("macro", MACROS)
@pytest.mark.parametrize("train", [True, False])
def test_euler_network_equals_hand_written_preactivation_resnet(macro, train):
    torch.manual_seed(0)
    x = INPUTS[macro]()
    net = build_network(small_spec("euler", macro, in_channels=x.shape[1]))
    ref = ReferenceResNet(macro, x.shape[1], 10, (8, 16), 3)
    _randomise_batchnorm(ref)
    copy_weights(ref, net)
    net.train(train), ref.train(train)
    assert (net(x) - ref(x)).abs().max().item() <= 1e-6


@pytest.mark.parametrize("learn", ["fixed", "layer"])
def test_lm_resnet_with_k_zero_equals_euler(learn):
    torch.manual_seed(1)
    x = INPUTS["sequence"]()
    euler = build_network(small_spec("euler"))
    lm = build_network(small_spec(schemes.get("lm_resnet", k=0, learn=learn)))
    copy_weights(euler, lm)
    for mode in (True, False):
        euler.train(mode), lm.train(mode)
        assert torch.equal(euler(x), lm(x))


@pytest.mark.parametrize("macro", MACROS)
def test_lm_resnet_network_equals_hand_written_lm_resnet(macro):
    torch.manual_seed(2)
    x = INPUTS[macro]()
    lm = build_network(small_spec("lm_resnet", macro, in_channels=x.shape[1]))
    ref = ReferenceLMResNet(macro, x.shape[1], 10, (8, 16), 3, k=0.0)
    copy_weights(lm, ref)  # learned k's are copied in step order
    for mode in (True, False):
        lm.train(mode), ref.train(mode)
        assert (lm(x) - ref(x)).abs().max().item() <= 1e-6


@pytest.mark.parametrize("learn", ["layer", "channel"])
def test_gradients_reach_every_learned_k(learn):
    torch.manual_seed(3)
    net = build_network(small_spec(schemes.get("lm_resnet", k=0.0, learn=learn)))
    ks = [p for name, p in net.named_parameters() if "learned_k" in name]
    assert len(ks) == 2 * (3 - 1)  # steps ≥ 1 of each stage own a k
    if learn == "channel":
        assert ks[0].shape == (8, 1) and ks[-1].shape == (16, 1)
    loss = torch.nn.functional.cross_entropy(net(INPUTS["sequence"]()), torch.randint(0, 10, (8,)))
    loss.backward()
    for k in ks:
        assert k.grad is not None and torch.all(k.grad != 0)


def test_learned_k_initialisation_follows_the_paper():
    torch.manual_seed(4)
    net = build_network(small_spec("lm_resnet", steps_per_stage=20))
    ks = torch.stack([p.detach() for name, p in net.named_parameters() if "learned_k" in name])
    assert torch.all(ks <= 0) and torch.all(ks > -0.1)


def test_coefficients_report_learned_values_per_step():
    net = build_network(small_spec(schemes.get("lm_resnet", k=0.25, learn="layer")))
    rows = net.coefficients()
    assert [(r["stage"], r["step"]) for r in rows] == [(s, n) for s in range(2) for n in range(3)]
    assert rows[0]["startup"] and rows[1]["k"] == 0.25 and rows[1]["alpha"] == [-0.25, -0.75, 1.0]


def test_shared_stage_weights_use_one_residual_function_per_step():
    separate = build_network(small_spec("rk4"))
    shared = build_network(small_spec("rk4", share_stage_weights=True))
    euler = build_network(small_spec("euler"))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(shared) == count(euler)
    block = sum(p.numel() for p in euler.stages[0].residuals[0].parameters()) + sum(
        p.numel() for p in euler.stages[1].residuals[0].parameters())
    assert count(separate) - count(euler) == 3 * 3 * block


def test_runge_kutta_step_computes_the_tableau_formula():
    # One heun step with step size h: x + h/2 (f(x) + f(x + h f(x))) with the network's own residual f.
    torch.manual_seed(5)
    net = build_network(small_spec("heun", widths=(8,), steps_per_stage=1, h=0.5, share_stage_weights=True)).eval()
    stage, f = net.stages[0], net.stages[0].residuals[0][0]
    x = torch.randn(4, 8, 40)
    expected = x + 0.25 * (f(x) + f(x + 0.5 * f(x)))
    assert torch.allclose(stage(x), expected, atol=1e-6)


def test_multistep_step_computes_the_ab2_formula():
    torch.manual_seed(6)
    net = build_network(small_spec("ab2", widths=(8,), steps_per_stage=2, h=0.5)).eval()
    stage = net.stages[0]
    f0, f1 = stage.residuals
    x0 = torch.randn(4, 8, 40)
    x1 = x0 + 0.5 * f0(x0)  # plain residual start-up step
    expected = x1 + 0.5 * (1.5 * f1(x1) - 0.5 * f0(x0))
    assert torch.allclose(stage(x0), expected, atol=1e-6)


@pytest.mark.parametrize("macro", MACROS)
@pytest.mark.parametrize("name", schemes.names())
def test_every_registered_scheme_builds_every_macro_and_trains(name, macro):
    torch.manual_seed(7)
    x = INPUTS[macro]()
    spec = small_spec(name, macro, in_channels=x.shape[1], widths=(8, 16), steps_per_stage=2)
    net = build_network(spec)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    loss = torch.nn.functional.cross_entropy(net(x), torch.randint(0, 10, (x.shape[0],)))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert torch.isfinite(net(x)).all()


@pytest.mark.parametrize("name", schemes.names())
def test_network_spec_round_trips_through_json(name):
    spec = small_spec(name, "image", h=0.5, share_stage_weights=True)
    again = NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(steps_per_stage=0), r"steps_per_stage \(depth\): must be a positive integer, got 0"),
        (dict(widths=(8, 0)), r"widths\[1\]: must be a positive integer, got 0"),
        (dict(widths=()), r"widths: needs at least one stage"),
        (dict(h=0), r"h: step size must be a positive number"),
        (dict(h=-1.0), r"h: step size must be a positive number"),
        (dict(macro="graph"), r"macro: must be one of image, sequence, mlp"),
        (dict(num_classes=0), r"num_classes: must be a positive integer"),
        (dict(scheme="rk5"), r"unknown scheme 'rk5'"),
        (dict(residual="dense"), r"residual: must be one of preact"),
        (dict(share_stage_weights="yes"), r"share_stage_weights: must be true or false"),
    ],
)
def test_bad_specs_raise_value_errors_naming_the_field(changes, message):
    kwargs = dict(scheme="euler", widths=(8, 16), steps_per_stage=2)
    kwargs.update(changes)
    with pytest.raises(ValueError, match=message):
        NetworkSpec(**kwargs)


def test_spec_dict_with_an_unknown_key_is_rejected():
    data = small_spec("euler").to_dict()
    data["depth"] = 3
    with pytest.raises(ValueError, match=r"network spec: unknown key\(s\) depth"):
        NetworkSpec.from_dict(data)


def test_memory_efficient_mode_needs_a_reversible_scheme():
    with pytest.raises(ValueError, match="memory_efficient: needs a reversible scheme"):
        build_network(small_spec("rk4", memory_efficient=True))
