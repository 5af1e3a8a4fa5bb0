"""Noise schedules (nas.schemes.noise) and their torch layers (nas.networks.noise).

Known values are checked exactly (dyadic schedules), behaviour by Monte Carlo with a fixed seed: per step
the sample mean and variance of the injected noise, and E[training output] = eval output for a linear f.
"""
import json
import math
from fractions import Fraction

import pytest
import torch
from torch import nn

from nas import schemes
from nas.network_kinds import build_network
from nas.networks import STAGES, NetworkSpec
from nas.networks.noise import NoNoise, noise_layer
from nas.schemes.noise import KINDS, SHAPES, NoiseSchedule, depth_profile

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: one thread is faster on a shared machine

SAMPLES = 4000
# One non-trivial schedule per noisy kind (linear: the value changes with every step).
NOISY = {
    "stochastic_depth": NoiseSchedule("stochastic_depth", "linear", p_L=0.5),
    "dropout": NoiseSchedule("dropout", "linear", p_L=0.6),
    "shake": NoiseSchedule("shake", "linear", a=0.8),
    "gaussian": NoiseSchedule("gaussian", "linear", sigma_max=0.7),
}
PARAMETERS = {"none": {}, "stochastic_depth": {"p_L": 0.5}, "dropout": {"p_L": 0.75}, "shake": {"a": 0.5},
              "gaussian": {"sigma_max": 0.25}}


def every_schedule():
    return [NoiseSchedule(kind, shape, **PARAMETERS[kind]) for kind in KINDS for shape in SHAPES]


# ----------------------------------------------------------------------------------- known values
def test_depth_profiles_known_values():
    assert [depth_profile("constant", n, 4) for n in range(4)] == [1, 1, 1, 1]
    assert [depth_profile("linear", n, 4) for n in range(4)] == [0.25, 0.5, 0.75, 1]
    assert [depth_profile("step", n, 4) for n in range(4)] == [0, 0, 1, 1]
    assert [depth_profile("cosine", n, 2) for n in range(2)] == pytest.approx([0.5, 1], abs=1e-15)
    assert depth_profile("cosine", 1, 2) == 1  # the last step reaches full strength exactly
    assert depth_profile("cosine", 0, 4) == pytest.approx((1 - math.sqrt(0.5)) / 2, abs=1e-15)


def test_stochastic_depth_linear_is_huang_rule_with_exact_moments():
    # p_n = 1 - (l/L)(1 - p_L) with Huang's block index l = n + 1; dyadic values are exact in floats.
    s = NoiseSchedule("stochastic_depth", "linear", p_L=0.5)
    p = [Fraction(7, 8), Fraction(3, 4), Fraction(5, 8), Fraction(1, 2)]
    h = 0.5
    for n in range(4):
        assert s.step_value(n, 4) == p[n]
        assert s.mean(n, 4) == s.drift_scale(n, 4) == p[n]
        assert s.variance(n, 4) == p[n] * (1 - p[n])
        assert s.diffusion_scale(n, 4, h) == pytest.approx(math.sqrt(p[n] * (1 - p[n]) * h), rel=1e-15)
        assert s.additive_variance(n, 4, h) == 0
    assert s.total_variance(4, h) == h * h * sum(q * (1 - q) for q in p)  # 0.25 · 25/32


def test_other_kinds_known_moments():
    dropout = NoiseSchedule("dropout", "constant", p_L=0.75)
    assert dropout.mean(2, 3) == 1 and dropout.variance(2, 3) == 1 / 3  # (1 − p)/p, both correctly rounded
    shake = NoiseSchedule("shake", "step", a=0.5)
    assert [shake.step_value(n, 4) for n in range(4)] == [0, 0, 0.5, 0.5]
    assert [shake.variance(n, 4) for n in range(4)] == [0, 0, 1 / 12, 1 / 12]
    assert shake.mean(3, 4) == 1 and shake.diffusion_scale(3, 4, 1.0) == pytest.approx(0.5 / math.sqrt(3))
    gauss = NoiseSchedule("gaussian", "linear", sigma_max=2.0)
    assert [gauss.step_value(n, 4) for n in range(4)] == [0.5, 1, 1.5, 2]
    assert gauss.mean(0, 4) == 1 and gauss.variance(0, 4) == 0 and not gauss.multiplicative
    assert gauss.diffusion_scale(1, 4, 0.25) == 1.0  # σ_n, independent of h and F
    assert gauss.additive_variance(3, 4, 0.25) == 1.0  # h σ_n²
    assert gauss.total_variance(4, 0.25) == 0.25 * (0.25 + 1 + 2.25 + 4)
    none = NoiseSchedule()
    assert none.step_value(0, 3) is None and none.mean(0, 3) == 1 and none.total_variance(3, 1.0) == 0


def test_sde_terms_rows_match_the_methods():
    s = NOISY["dropout"]
    rows = s.sde_terms(5, 0.5)
    assert [r["step"] for r in rows] == list(range(5))
    for r in rows:
        assert r["variance"] == s.variance(r["step"], 5)
        assert r["diffusion_scale"] == s.diffusion_scale(r["step"], 5, 0.5)


# ----------------------------------------------------------------------------- validation, JSON
@pytest.mark.parametrize("kwargs, field", [
    ({"kind": "stochastic_depth", "p_L": 0.0}, "p_L"),
    ({"kind": "stochastic_depth", "p_L": 1.5}, "p_L"),
    ({"kind": "dropout", "p_L": -0.2}, "p_L"),
    ({"kind": "dropout", "p_L": float("nan")}, "p_L"),
    ({"kind": "dropout", "p_L": True}, "p_L"),
    ({"kind": "dropout", "p_L": "0.5"}, "p_L"),
    ({"kind": "dropout"}, "p_L"),
    ({"kind": "gaussian", "sigma_max": -0.1}, "sigma_max"),
    ({"kind": "gaussian", "sigma_max": float("inf")}, "sigma_max"),
    ({"kind": "shake", "a": 1.5}, "a"),
    ({"kind": "shake", "a": -0.1}, "a"),
    ({"kind": "shake", "a": 0.5, "p_L": 0.5}, "p_L"),
    ({"kind": "none", "sigma_max": 0.1}, "sigma_max"),
    ({"kind": "droppath"}, "kind"),
    ({"kind": "shake", "shape": "exponential", "a": 0.5}, "shape"),
])
def test_bad_parameters_raise_value_error_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        NoiseSchedule(**kwargs)


def test_bad_step_queries_and_dicts_raise():
    s = NOISY["shake"]
    for call, field in [(lambda: s.mean(4, 4), "n"), (lambda: s.variance(-1, 4), "n"),
                        (lambda: s.step_value(0, 0), "N"), (lambda: s.diffusion_scale(0, 4, 0.0), "h"),
                        (lambda: s.total_variance(4, -1.0), "h")]:
        with pytest.raises(ValueError, match=rf"^{field}:"):
            call()
    with pytest.raises(ValueError, match="unknown key.*sigma"):
        NoiseSchedule.from_dict({"kind": "gaussian", "sigma": 0.1})
    with pytest.raises(ValueError, match="missing key.*kind"):
        NoiseSchedule.from_dict({"shape": "linear"})
    with pytest.raises(ValueError, match="^noise:"):
        NetworkSpec(scheme="euler", noise="dropout")


@pytest.mark.parametrize("schedule", every_schedule(), ids=str)
def test_exact_json_round_trip(schedule):
    data = json.loads(json.dumps(schedule.to_dict()))
    assert NoiseSchedule.from_dict(data) == schedule
    assert NoiseSchedule.from_dict(data).to_dict() == schedule.to_dict()


def test_network_spec_round_trips_its_noise():
    spec = NetworkSpec(scheme="rk4", noise={"kind": "stochastic_depth", "shape": "cosine", "p_L": 0.8})
    assert spec.noise == NoiseSchedule("stochastic_depth", "cosine", p_L=0.8)
    assert NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# ------------------------------------------------------------------------------- Monte Carlo
def _fourth_central_moment(schedule, n, N, h):
    """μ4 of the injected noise of step n, from its textbook distribution."""
    value = schedule.step_value(n, N)
    if schedule.kind in ("stochastic_depth", "dropout"):
        q = value * (1 - value)
        bernoulli = q * (1 - 3 * q)  # μ4 of Bernoulli(p)
        return bernoulli if schedule.kind == "stochastic_depth" else bernoulli / value ** 4  # of m/p
    if schedule.kind == "shake":
        return value ** 4 / 5  # U(1 − a, 1 + a)
    return 3 * (h * value * value) ** 2  # N(0, h σ²)


@pytest.mark.parametrize("kind", list(NOISY))
def test_injected_noise_moments_per_step_match_the_schedule(kind):
    schedule, N, h, M = NOISY[kind], 4, 0.5, SAMPLES
    torch.manual_seed(1234)
    for n in range(N):
        layer = noise_layer(schedule, n, N, h).train()
        if schedule.multiplicative:  # η = output / increment with increment = 1
            samples = layer(torch.ones(M, 1, dtype=torch.float64)).flatten()
            mean, variance = schedule.mean(n, N), schedule.variance(n, N)
        else:  # the additive noise itself
            samples = layer(torch.zeros(M, 1, dtype=torch.float64)).flatten()
            mean, variance = 0.0, schedule.additive_variance(n, N, h)
        assert variance > 0
        assert abs(samples.mean().item() - mean) <= 3 * math.sqrt(variance / M), (kind, n)
        # Var(s²) = μ4/M − σ⁴(M − 3)/(M(M − 1)) for i.i.d. samples (Cramér 1946, §27.4).
        se_variance = math.sqrt(_fourth_central_moment(schedule, n, N, h) / M
                                - variance ** 2 * (M - 3) / (M * (M - 1)))
        assert abs(samples.var().item() - variance) <= 3 * se_variance, (kind, n)


def test_noise_structure_per_sample_or_per_element():
    torch.manual_seed(5)
    ones = torch.ones(64, 3, 5)
    for kind in ("stochastic_depth", "shake"):  # one draw per sample, shared by its channels and positions
        out = noise_layer(NOISY[kind], 3, 4, 1.0).train()(ones, ones)
        assert torch.equal(out, out[:, :1, :1].expand_as(out)) and out.flatten(1)[:, 0].unique().numel() > 1
    for kind in ("dropout", "gaussian"):  # independent per element
        out = noise_layer(NOISY[kind], 3, 4, 1.0).train()(ones, ones)
        assert (out.flatten(1) != out.flatten(1)[:, :1]).any(dim=1).float().mean() > 0.5


def _linear_stage(scheme, schedule, width=2, steps=4, h=0.5):
    spec = NetworkSpec(scheme=scheme, macro="mlp", widths=(width,), steps_per_stage=steps, h=h, noise=schedule)
    # make_residual(width=None, *, step, role): a new linear f for every step (untied)
    stage = STAGES[spec.scheme.family](spec.scheme, spec, width, 0, lambda *_, **__: nn.Linear(width, width))
    with torch.no_grad():  # contractive-ish linear f, so products of random factors stay moderate
        for m in stage.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(0.8)
    return stage.double()


@pytest.mark.parametrize("scheme", ["euler", "rk4", "ab2", schemes.get("lm_resnet", k=0.3, learn="layer")], ids=str)
@pytest.mark.parametrize("kind", list(NOISY))
def test_training_mean_equals_eval_output_for_linear_f(scheme, kind):
    torch.manual_seed(7)
    stage = _linear_stage(scheme, NOISY[kind])
    x0 = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    with torch.no_grad():
        expected = stage.eval()(x0)[0]
        samples = stage.train()(x0.expand(SAMPLES, 2).clone())
    assert samples.std(dim=0).min() > 0  # the noise really is on
    se = samples.std(dim=0) / math.sqrt(SAMPLES)
    assert ((samples.mean(dim=0) - expected).abs() <= 3 * se).all(), (samples.mean(dim=0), expected, se)


# --------------------------------------------------------------------------- train / eval semantics
def _network(noise, scheme="euler", **kw):
    kw.setdefault("widths", (4, 8))
    return build_network(NetworkSpec(scheme=scheme, macro="sequence", steps_per_stage=2, noise=noise, **kw))


@pytest.mark.parametrize("kind", list(NOISY))
def test_eval_is_deterministic_and_training_reproducible_by_seed(kind):
    torch.manual_seed(0)
    net, x = _network(NOISY[kind]), torch.randn(6, 1, 40)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    outputs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        outputs.append(net(x))
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])


@pytest.mark.parametrize("noise", [NoiseSchedule("none"), NoiseSchedule("none", "linear"),
                                   NoiseSchedule("gaussian", sigma_max=0.0), NoiseSchedule("dropout", p_L=1.0)],
                         ids=str)
def test_noiseless_schedules_reproduce_the_plain_network_exactly(noise):
    torch.manual_seed(0)
    plain, noisy, x = _network(None, "rk4"), _network(noise, "rk4"), torch.randn(6, 1, 40)
    noisy.load_state_dict(plain.state_dict())
    assert all(isinstance(m, NoNoise) for stage in noisy.stages if stage.noise is not None for m in stage.noise)
    for mode in (True, False):
        plain.train(mode), noisy.train(mode)
        torch.manual_seed(1)
        assert torch.equal(plain(x), noisy(x))


@pytest.mark.parametrize("kind", ["dropout", "shake", "gaussian"])
def test_mean_one_kinds_evaluate_as_the_plain_network(kind):
    torch.manual_seed(0)
    plain, noisy, x = _network(None, "ab2"), _network(NOISY[kind], "ab2"), torch.randn(6, 1, 40)
    noisy.load_state_dict(plain.state_dict())
    assert torch.equal(plain.eval()(x), noisy.eval()(x))


def test_stochastic_depth_eval_scales_each_increment_by_p_n():
    # Huang et al.'s expectation scaling: a Euler network with p_n-scaled increments, built by hand.
    torch.manual_seed(0)
    noisy, x = _network(NOISY["stochastic_depth"], widths=(4,)), torch.randn(6, 1, 40)
    noisy.eval()
    state = noisy.stem(x)
    for n, f in enumerate(noisy.stages[0].residuals):
        state = state + NOISY["stochastic_depth"].step_value(n, 2) * f[0](state)
    assert torch.allclose(noisy(x), noisy.head(state), atol=1e-6, rtol=0)


# -------------------------------------------------------------------------------------- export
RANDOM_OPS = ("bernoulli", "rand", "uniform", "normal", "dropout", "multinomial", "poisson")


def _random_ops(exported):
    return [str(node.target) for node in exported.graph.nodes
            if node.op == "call_function" and any(r in str(node.target) for r in RANDOM_OPS)]


@pytest.mark.parametrize("kind", list(NOISY))
def test_eval_export_has_no_random_op(kind):
    torch.manual_seed(0)
    net = build_network(NetworkSpec(scheme="heun", macro="mlp", num_classes=2, widths=(4,), steps_per_stage=2,
                                    noise=NOISY[kind]))
    x = torch.randn(5, 2)
    net.eval()
    batch = torch.export.Dim("batch")
    exported = torch.export.export(net, (x,), dynamic_shapes={"x": {0: batch}})
    assert _random_ops(exported) == []
    assert torch.equal(exported.module()(x), net(x))
    # The same check does see the random op of a training-mode layer.
    layer = noise_layer(NOISY[kind], 1, 2, 1.0).train()
    assert _random_ops(torch.export.export(layer, (x,), dynamic_shapes={"increment": {0: batch}})) != []


# ---------------------------------------------------------------------------- every scheme family
@pytest.mark.parametrize("kind", list(NOISY))
@pytest.mark.parametrize("name", schemes.names())
def test_every_scheme_trains_with_every_noise_kind(name, kind):
    torch.manual_seed(0)
    net = build_network(NetworkSpec(scheme=name, macro="mlp", num_classes=2, widths=(4,), steps_per_stage=3,
                                    noise=NOISY[kind]))
    x, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimiser.step()
    assert math.isfinite(loss.item())
    torch.manual_seed(1)
    first = net(x)
    torch.manual_seed(2)
    assert not torch.equal(first, net(x))  # the noise is applied by this scheme's stage
