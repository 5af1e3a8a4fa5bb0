"""Reversible schemes (hamiltonian, leapfrog2, two-step leapfrog) and memory-efficient backpropagation."""
import json
import math
from fractions import Fraction as Fr

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nas import schemes
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.residuals import KernelTransposeResidual, SingleLayerResidual
from nas.schemes import Hamiltonian, Leapfrog2, SeparableField
from nas.solver import integrate

# family -> the paper's residual form for it (Chang et al. 2018)
PAPER_FORMS = {"hamiltonian": "kernel_transpose", "leapfrog": "antisymmetric", "leapfrog2": "kernel_transpose"}
REVERSIBLE = list(PAPER_FORMS)
INPUTS = {
    "sequence": lambda n=6, dtype=torch.float64: torch.randn(n, 1, 12, dtype=dtype),
    "image": lambda n=4, dtype=torch.float64: torch.randn(n, 3, 6, 6, dtype=dtype),
    "mlp": lambda n=6, dtype=torch.float64: torch.randn(n, 2, dtype=dtype),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny tensors: intra-op threads only contend for the shared CPU (10× slower under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reversible_spec(name, macro="sequence", **kw):
    kw.setdefault("widths", (4, 8))
    kw.setdefault("steps_per_stage", 4)
    kw.setdefault("h", 0.4)
    kw.setdefault("residual", PAPER_FORMS[name])
    return NetworkSpec(scheme=name, macro=macro, **kw)


def twin_networks(spec, dtype=torch.float64):
    """Identically initialised plain and memory-efficient networks."""
    torch.manual_seed(3)
    plain = build_network(spec).to(dtype)
    efficient = build_network(spec.replace(memory_efficient=True)).to(dtype)
    efficient.load_state_dict(plain.state_dict())
    return plain, efficient


def relative(a, b):
    return ((a - b).norm() / b.norm()).item()


def check_same_gradients(plain, efficient, x, target, tolerance=1e-6):
    """The input and parameter gradients of a cross-entropy loss agree to ``tolerance`` (relative)."""
    grads = []
    for net in (plain, efficient):
        xi = x.clone().requires_grad_(True)
        F.cross_entropy(net(xi), target).backward()
        grads.append([xi.grad] + [p.grad for p in net.parameters()])
    for g_efficient, g_plain in zip(*reversed(grads)):
        assert relative(g_efficient, g_plain) <= tolerance


# ------------------------------------------------------------------------------------------ schemes

def test_registry_has_the_reversible_schemes_once_with_their_ode_forms():
    assert isinstance(schemes.get("hamiltonian"), Hamiltonian)
    assert isinstance(schemes.get("leapfrog2"), Leapfrog2)
    assert schemes.info("hamiltonian").order == 2 and schemes.info("leapfrog2").order == 2
    assert schemes.get("hamiltonian").ode_form == "partitioned"
    assert schemes.get("leapfrog2").ode_form == "second_order"
    # the paper's midpoint network is the registry's two-step leapfrog, registered only once
    leapfrog = schemes.get("leapfrog")
    same = [n for n in schemes.names() if schemes.get(n) == leapfrog] if leapfrog.steps == 2 else []
    assert same == ["leapfrog"] and leapfrog.alpha == (-1, 0, 1) and leapfrog.beta == (0, 2, 0)


@pytest.mark.parametrize("name", ["hamiltonian", "leapfrog2"])
def test_reversible_schemes_round_trip_through_json_and_reject_unknown_keys(name):
    scheme = schemes.get(name)
    assert schemes.from_dict(json.loads(json.dumps(scheme.to_dict()))) == scheme
    with pytest.raises(ValueError, match=r"unknown key\(s\) k"):
        schemes.from_dict({**scheme.to_dict(), "k": 1})


def test_known_values_of_one_hamiltonian_step_and_its_inverse():
    # g(z) = 2z, G(y) = −3y, h = 1/2 from (y, z) = (1, 1): y' = 1 + 1/2·2 = 2, z' = 1 − 1/2·3·2 = −2
    drift, kick = (lambda z: 2 * z), (lambda y: -3 * y)
    y, z = Hamiltonian.step(drift, kick, Fr(1), Fr(1), Fr(1, 2))
    assert (y, z) == (2, -2)
    assert Hamiltonian.inverse_step(drift, kick, y, z, Fr(1, 2)) == (1, 1)


def test_known_values_of_leapfrog2_start_step_and_inverse():
    force = lambda x: -4 * x  # noqa: E731
    h = Fr(1, 2)
    assert Leapfrog2.start(force, Fr(1), h) == Fr(1, 2)  # 1 + (1/8)(−4)
    assert Leapfrog2.start(force, Fr(1), h, v0=Fr(2)) == Fr(3, 2)
    x_next = Leapfrog2.step(force, Fr(1), Fr(1, 2), h)  # 2·1/2 − 1 + 1/4·(−2) = −1/2
    assert x_next == Fr(-1, 2)
    assert Leapfrog2.inverse_step(force, Fr(1, 2), x_next, h) == 1


def _slope(errors, steps):
    return np.polyfit(np.log([1.0 / n for n in steps]), np.log(errors), 1)[0]


STEPS = (20, 40, 80, 160)


def test_hamiltonian_integrates_the_harmonic_oscillator_with_order_two():
    # y' = z, z' = −y, (y, z)(0) = (1, 0): y = cos t, z = −sin t
    field = SeparableField(drift=lambda z: z, kick=lambda y: -y)
    errors = []
    for n in STEPS:
        x0 = (torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64))
        y, z = integrate(field, x0, "hamiltonian", 1.0 / n, n)
        errors.append(max(abs(y.item() - math.cos(1.0)), abs(z.item() + math.sin(1.0))))
    assert abs(_slope(errors, STEPS) - 2) <= 0.2


@pytest.mark.parametrize("x0, exact", [(1.0, math.cos(2.0)), ((0.0, 2.0), math.sin(2.0))])
def test_leapfrog2_integrates_x_second_derivative_equals_minus_x_with_order_two(x0, exact):
    # x'' = −4x on [0, 1]: x = cos 2t from (1, 0), x = sin 2t from (0, 2)
    errors = []
    for n in STEPS:
        start = tuple(torch.tensor(v, dtype=torch.float64) for v in x0) if isinstance(x0, tuple) else \
            torch.tensor(x0, dtype=torch.float64)
        x = integrate(lambda u: -4 * u, start, "leapfrog2", 1.0 / n, n)
        errors.append(abs(x.item() - exact))
    assert abs(_slope(errors, STEPS) - 2) <= 0.2


def test_integrate_rejects_a_plain_callable_for_the_hamiltonian_scheme():
    with pytest.raises(ValueError, match="SeparableField"):
        integrate(lambda u: -u, (torch.tensor(1.0), torch.tensor(0.0)), "hamiltonian", 0.1, 3)
    with pytest.raises(ValueError, match=r"x0: the hamiltonian scheme needs the pair"):
        integrate(SeparableField(lambda z: z, lambda y: -y), torch.tensor(1.0), "hamiltonian", 0.1, 3)


# ----------------------------------------------------------------------------------- residual forms

@pytest.mark.parametrize("macro", ["sequence", "mlp", "image"])
def test_kernel_transpose_is_the_adjoint_and_antisymmetric_kernel_is_antisymmetric(macro):
    torch.manual_seed(0)
    width = 3
    block = KernelTransposeResidual(macro, width).double()
    anti = SingleLayerResidual(macro, width, antisymmetric=True).double()
    shape = {"sequence": (2, width, 7), "image": (2, width, 5, 5), "mlp": (2, width)}[macro]
    x, y = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    k = block.kernel
    assert torch.allclose((k(x) * y).sum(), (x * k.transpose(y)).sum())  # ⟨Kx, y⟩ = ⟨x, Kᵀy⟩
    a = lambda v: anti.kernel.apply_weight(v, anti.kernel.antisymmetric_weight())  # noqa: E731
    assert torch.allclose((a(x) * y).sum(), -(x * a(y)).sum())  # ⟨Ax, y⟩ = −⟨x, Ay⟩
    assert (a(x) * x).sum().abs() < 1e-10  # ⟨Ax, x⟩ = 0


# ------------------------------------------------------------------------------ networks: gradients

@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", REVERSIBLE)
def test_memory_efficient_gradients_equal_plain_autograd_in_float64(name, train):
    plain, efficient = twin_networks(reversible_spec(name))
    plain.train(train), efficient.train(train)
    torch.manual_seed(5)
    x = INPUTS["sequence"]()
    check_same_gradients(plain, efficient, x, torch.randint(0, 10, (x.shape[0],)))
    # BatchNorm buffers (running statistics, batch counts) were updated exactly once, as in plain mode
    for (key, a), b in zip(plain.state_dict().items(), efficient.state_dict().values()):
        assert torch.equal(a, b), key


@pytest.mark.parametrize("macro", ["image", "mlp"])
@pytest.mark.parametrize("name", REVERSIBLE)
def test_memory_efficient_mode_works_for_every_macro_and_the_default_preact_form(name, macro):
    plain, efficient = twin_networks(reversible_spec(name, macro, residual="preact", steps_per_stage=3))
    x = INPUTS[macro]()
    for net in (plain, efficient):
        net(x).square().sum().backward()
    for p, q in zip(plain.parameters(), efficient.parameters()):
        assert relative(q.grad, p.grad) <= 1e-6


@pytest.mark.parametrize("name", REVERSIBLE)
def test_memory_efficient_stage_passes_gradcheck_in_train_mode(name):
    torch.manual_seed(1)
    net = build_network(reversible_spec(name, widths=(4,), steps_per_stage=3, memory_efficient=True)).double()
    stage = net.stages[0]
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(stage, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("name", REVERSIBLE)
def test_memory_efficient_forward_equals_plain_forward(name):
    plain, efficient = twin_networks(reversible_spec(name))
    x = INPUTS["sequence"]()
    assert torch.equal(plain(x), efficient(x))


def _saved_bytes(net, x):
    """Bytes of the distinct tensors autograd saves in one forward pass (parameters excluded)."""
    params = {p.data_ptr() for p in net.parameters()}
    storages = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            storages[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x).sum()
    return sum(storages.values())


@pytest.mark.parametrize("name", REVERSIBLE)
def test_saved_activations_grow_with_depth_in_plain_mode_only(name):
    x = INPUTS["sequence"](4, torch.float32)
    sizes = {}
    for efficient in (False, True):
        for depth in (4, 16):
            net = build_network(reversible_spec(name, steps_per_stage=depth, memory_efficient=efficient))
            sizes[efficient, depth] = _saved_bytes(net, x)
    assert sizes[True, 16] == sizes[True, 4]
    assert sizes[False, 16] > 3 * sizes[False, 4] > 3 * sizes[True, 4]


# ------------------------------------------------------------------------------ networks: inversion

def _reconstruction_error(name, dtype, steps=100, h=0.5):
    torch.manual_seed(2)
    spec = reversible_spec(name, widths=(8,), steps_per_stage=steps, h=h)
    stage = build_network(spec).to(dtype).stages[0]
    x = torch.randn(4, 8, 10, dtype=dtype)
    with torch.no_grad():
        states = stage.forward_states(x)
    return ((stage.reconstruct_input(states) - x).abs().max() / x.abs().max()).item()


def test_hamiltonian_inversion_is_exact_in_float64_over_100_steps():
    assert _reconstruction_error("hamiltonian", torch.float64) <= 1e-10


@pytest.mark.parametrize("name", ["leapfrog", "leapfrog2"])
def test_two_step_inversion_is_exact_to_round_off_in_float64_and_drifts_in_float32(name):
    error64, error32 = _reconstruction_error(name, torch.float64), _reconstruction_error(name, torch.float32)
    assert error64 <= 1e-10
    # round-off amplification is the same dynamics in both precisions: float32 ≈ 2^29 × float64
    assert 1e-8 < error32 < 1e-2


# ------------------------------------------------------------------------------------ networks: export

@pytest.mark.parametrize("name", REVERSIBLE)
def test_memory_efficient_network_exports_in_eval_mode_and_gives_the_same_output(name):
    torch.manual_seed(4)
    net = build_network(reversible_spec(name, "image", widths=(4,), steps_per_stage=2, memory_efficient=True))
    net.eval()
    x = torch.randn(2, 3, 6, 6)
    program = torch.export.export(net, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    x = torch.randn(3, 3, 6, 6)
    assert torch.allclose(program.module()(x), net(x), atol=1e-6)


# ---------------------------------------------------------------------------------------- bad input

def test_odd_width_for_hamiltonian_is_a_value_error_naming_the_width():
    with pytest.raises(ValueError, match=r"widths\[1\] = 7: the hamiltonian scheme splits the channels"):
        build_network(reversible_spec("hamiltonian", widths=(4, 7)))


@pytest.mark.parametrize("h", [0, -0.5])
def test_non_positive_step_size_is_a_value_error(h):
    with pytest.raises(ValueError, match="h: step size must be a positive number"):
        reversible_spec("hamiltonian", h=h)


@pytest.mark.parametrize(
    "scheme, message",
    [
        ("rk4", r"memory_efficient: needs a reversible scheme"),
        ("ab2", r"ab2 cannot be inverted step by step: beta\[0\] = -1/2 != 0"),
        ("ab3", r"ab3 cannot be inverted step by step: only two-step methods"),
        (schemes.get("lm_resnet", k=0.3), r"dividing by k amplifies round-off"),
        ("lm_resnet", r"dividing by k amplifies round-off"),
    ],
)
def test_memory_efficient_mode_rejects_schemes_it_cannot_invert(scheme, message):
    with pytest.raises(ValueError, match=message):
        build_network(NetworkSpec(scheme=scheme, widths=(4,), memory_efficient=True))


@pytest.mark.parametrize("name", REVERSIBLE)
def test_noise_trains_in_plain_mode_and_is_rejected_in_memory_efficient_mode(name):
    from nas.schemes.noise import NoiseSchedule

    noise = NoiseSchedule(kind="gaussian", sigma_max=0.1)
    net = build_network(reversible_spec(name, noise=noise))
    x = INPUTS["sequence"](dtype=torch.float32)
    torch.manual_seed(0)
    first = net(x)
    first.sum().backward()
    assert not torch.equal(first, net(x))  # the training forward really draws noise
    net.eval()
    assert torch.equal(net(x), net(x))
    message = r"memory_efficient: cannot be combined with noise \(noise.kind = 'gaussian'\)"
    with pytest.raises(ValueError, match=message):
        build_network(reversible_spec(name, noise=noise, memory_efficient=True))
    build_network(reversible_spec(name, noise=NoiseSchedule(kind="none"), memory_efficient=True))


def test_memory_efficient_mode_refuses_double_backward():
    net = build_network(reversible_spec("leapfrog2", widths=(4,), memory_efficient=True)).double()
    x = INPUTS["sequence"]().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        grad.sum().backward()


def test_coefficients_report_each_step_of_the_reversible_stages():
    net = build_network(reversible_spec("leapfrog2", widths=(4,), steps_per_stage=3, h=0.5))
    rows = net.coefficients()
    assert [r["startup"] for r in rows] == [True, False, False]
    assert rows[0]["force"] == 0.125 and rows[1]["alpha"] == [1.0, -2.0, 1.0] and rows[1]["force"] == 0.25
    net = build_network(reversible_spec("hamiltonian", widths=(4, 8), steps_per_stage=2, h=0.5))
    assert [(r["stage"], r["y_increment"], r["z_increment"]) for r in net.coefficients()] == \
        [(0, 0.5, -0.5)] * 2 + [(1, 0.5, -0.5)] * 2
