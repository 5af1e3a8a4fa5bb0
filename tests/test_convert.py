"""``nas.convert``: torchvision ResNets as scheme networks (docs/convert.md).

Exactness is asserted bit for bit (max |difference| == 0) on networks whose batch norms have random statistics
and affine parameters, so that no layer is close to the identity.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import nas
from nas import schemes
from nas.conversion import ConvertedSpec, SchemeResNet, convert
from nas.conversion.folder import write_folder
from nas.diagnostics import analyze_network
from nas.families import registry
from nas.network_kinds import build_network

pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py


def resnet(name: str, seed: int = 0, **kwargs) -> nn.Module:
    """A torchvision ResNet with random weights and random batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    return model.eval()


def max_difference(a, b) -> float:
    return (a - b).abs().max().item()


# --------------------------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_euler_and_lm_resnet_with_k_0_compute_exactly_what_the_original_computes(name):
    model = resnet(name)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = model(x)
        for scheme, options in [("euler", {}), ("lm_resnet", {"k": 0}), ("lm_resnet", {"k": 0, "learn": "layer"}),
                                ("momentum", {"gamma": 0})]:
            converted = convert(model, scheme, **options).eval()
            assert isinstance(converted, SchemeResNet)
            assert max_difference(converted(x), reference) == 0.0, (scheme, options)
        assert torch.equal(model(x), reference)  # the original is left as it was
    assert sum(p.numel() for p in convert(model, "euler").parameters()) == sum(p.numel() for p in model.parameters())


def test_the_converted_stage_is_the_scheme_applied_to_the_blocks():
    """LM-ResNet with k = 0.3 written out by hand, layer by layer: x_1 = relu(W_s x + F_0(x)),
    x_2 = relu((1 - k) x_1 + k W_s x + F_1(x_1))."""
    model, k = resnet("resnet18"), 0.3
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))

    def branch(block, x):
        return block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))

    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            first, second = layer
            shortcut = h if first.downsample is None else first.downsample(h)
            h1 = torch.relu(shortcut + branch(first, h))
            h = torch.relu((1 - k) * h1 + k * shortcut + branch(second, h1))
        by_hand = model.fc(torch.flatten(model.avgpool(h), 1))
        converted = convert(model, "lm_resnet", k=k).eval()(x)
    assert max_difference(converted, by_hand) < 1e-5


def test_without_the_relu_a_one_step_stage_is_nas_integrate_over_its_blocks():
    model = resnet("resnet34")
    converted = convert(model, "rk4", h=0.5, relu="none").eval()
    stage = converted.stages[2]
    x = torch.rand(2, 256, 8, 8)
    with torch.no_grad():
        expected = nas.integrate([fs[0] for fs in stage.residuals], x, "rk4", h=0.5, steps=len(stage.residuals))
        assert max_difference(stage(x), expected) < 1e-5  # a one-step scheme has no prior state
    assert all(len(fs) == 1 for fs in stage.residuals)  # four evaluations of one block per step: shared weights
    assert "4 evaluations of the same block per step" in converted.summary()
    assert sum(p.numel() for p in converted.parameters()) == sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------- every registered scheme
@pytest.mark.parametrize("name", schemes.names())
def test_every_registered_scheme_converts_and_trains_or_is_refused_with_its_reason(name):
    scheme = schemes.get(name)
    reason = registry.family_of(scheme).conversion_reason(scheme)
    model = resnet("resnet18", num_classes=10)
    if reason is not None:
        with pytest.raises(ValueError, match=re.escape(f"cannot run on the blocks of a torchvision ResNet: {reason}")):
            convert(model, name)
        return
    converted = convert(model, name).train()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(converted(x), y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in converted.parameters())
    rows = converted.coefficients()
    assert [row["depth"] for row in rows] == list(range(8))  # 4 transitions + 4 scheme steps
    assert [row["startup"] for row in rows[::2]] == [True] * 4


def test_the_hamiltonian_scheme_is_refused_naming_the_channel_split():
    with pytest.raises(ValueError, match="splits the channels into two halves"):
        convert(resnet("resnet18"), "hamiltonian")


# ------------------------------------------------------------------------------ training, export, diagnostics
def test_learned_k_trains_exports_and_loads_without_nas(tmp_path):
    torch.manual_seed(3)
    network = convert(torchvision.models.resnet18(weights=None, num_classes=10), "lm_resnet").train()
    ks = [p for name, p in network.named_parameters() if ".learned_k." in name]
    assert len(ks) == 4  # one per stage: the history of each stage starts at its transition
    before = [k.item() for k in ks]
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    nn.functional.cross_entropy(network(x), y).backward()
    assert all(k.grad is not None and k.grad.item() != 0.0 for k in ks)
    optimizer.step()
    assert all(k.item() != b for k, b in zip(ks, before))

    report = analyze_network(network)  # the per-step coefficients, learned k included
    learned = [row for row in report.rows if row[report.columns.index("k")] is not None]
    assert [row[report.columns.index("k")] for row in learned] == pytest.approx([k.item() for k in ks])
    assert report.name == "SchemeResNet(lm_resnet(learned per layer))"

    network.eval()
    example = torch.randn(2, 3, 32, 32)
    out = tmp_path / "lm18"
    card = write_folder(network, out, example, provenance={"source": "random", "text": "random"})
    assert set(card["files"]) >= {"model.pt2", "weights.safetensors", "spec.json", "card.json", "card.md",
                                  "coefficients.png"}
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        expected = network(x)
        reloaded = nas.load(out)
        assert torch.equal(reloaded(x), expected)
    torch.save({"x": x, "y": expected}, tmp_path / "io.pt")
    script = ("import sys, torch\n"
              "sys.modules['nas'] = None  # nas cannot be imported in this process\n"
              "try:\n    import nas\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('nas imported')\n"
              f"io = torch.load({str(tmp_path / 'io.pt')!r})\n"
              f"model = torch.export.load({str(out / 'model.pt2')!r}).module()\n"
              "print((model(io['x']) - io['y']).abs().max().item())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == 0.0

    # issue 22, defect 1: --force replaces this export, and never a folder nas did not write
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x")
    with pytest.raises(ValueError, match=r"was not written by nas export \(thesis.tex\)"):
        write_folder(network, precious, example, provenance={"source": "random", "text": "random"}, replace=True)
    assert [p.name for p in precious.iterdir()] == ["thesis.tex"]
    write_folder(network, out, example, provenance={"source": "random", "text": "again"}, replace=True)
    assert json.loads((out / "card.json").read_text())["conversion"]["weights"]["text"] == "again"
    assert (out / ".nas-export").is_file()


def test_memory_efficient_momentum_matches_plain_gradients():
    torch.manual_seed(4)
    model = torchvision.models.resnet18(weights=None, num_classes=10).double()
    plain = convert(model, "momentum", gamma=0.9, relu="stage").train()
    saving = convert(model, "momentum", gamma=0.9, relu="stage", memory_efficient=True).train()
    saving.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    grads = []
    for network in (plain, saving):
        network.zero_grad()
        network(x).square().sum().backward()
        grads.append([p.grad for p in network.parameters()])
    for a, b in zip(*grads):
        assert (a - b).abs().max().item() <= 1e-6 * (1 + a.abs().max().item())
    with pytest.raises(ValueError, match="a ReLU after every step cannot be inverted"):
        convert(model, "momentum", gamma=0.9, memory_efficient=True)


# ------------------------------------------------------------------------------------------------ the spec
def test_spec_round_trips_and_rebuilds_the_network():
    spec = ConvertedSpec("resnet34", schemes.get("lm_resnet", k=0.25), num_classes=10, stem="cifar", h=0.5)
    data = json.loads(json.dumps(spec.to_dict()))
    assert ConvertedSpec.from_dict(data) == spec
    assert data["stage_steps"] == [3, 4, 6, 3] and data["steps_per_stage"] == 6
    assert data["widths"] == [64, 128, 256, 512]
    network = build_network(data)
    assert isinstance(network, SchemeResNet) and network.spec == spec
    assert [len(stage.residuals) for stage in network.stages] == [2, 3, 5, 2]
    for key, value, message in [("steps_per_stage", 3, "steps_per_stage: a converted resnet34 has 6"),
                                ("stage_steps", [2, 2, 2, 2], "stage_steps: resnet34 has"),
                                ("torchvision", "vgg16", "unknown torchvision ResNet 'vgg16'"),
                                ("relu", "gelu", "relu: must be one of step, stage, none"),
                                ("bogus", 1, "unknown key(s) bogus")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            ConvertedSpec.from_dict({**data, key: value})


def test_convert_recognises_named_architectures_and_stems():
    def spec(model):
        return convert(model, "euler").spec

    with torch.device("meta"):  # shapes only: nothing is allocated
        assert spec(torchvision.models.resnet50()).architecture == "resnet50"
        assert spec(torchvision.models.wide_resnet50_2(num_classes=7)).architecture == "wide_resnet50_2"
        cifar = spec(nas.conversion.torchvision_model("resnet18", num_classes=10, stem="cifar"))
        assert (cifar.architecture, cifar.stem, cifar.num_classes) == ("resnet18", "cifar", 10)
        custom = torchvision.models.resnet18()
        custom.conv1 = nn.Conv2d(3, 64, 5, 1, 2, bias=False)  # a ResNet of one's own: converts, cannot be rebuilt
        assert spec(custom).architecture is None and not spec(custom).rebuildable
        custom.fc = nn.Identity()  # a feature extractor: its outputs are the last layer's features
        assert spec(custom).num_classes == 512


# ----------------------------------------------------------------------------------- unsupported models
class OwnBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        self.conv = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.downsample = downsample

    def forward(self, x):
        return torch.relu(self.conv(x))


class GatedBlock(torchvision.models.resnet.BasicBlock):
    def forward(self, x):
        return 0.5 * super().forward(x)


@pytest.mark.parametrize("model, message", [
    (lambda: torchvision.models.vgg11(weights=None, num_classes=10), "a VGG is not a torchvision ResNet"),
    (lambda: torchvision.models.resnet.ResNet(OwnBlock, [2, 2, 2, 2]), "layer1[0] is a OwnBlock; only torchvision's "
                                                                       "BasicBlock and Bottleneck blocks"),
    (lambda: torchvision.models.resnet.ResNet(GatedBlock, [2, 2, 2, 2]), "layer1[0] is a GatedBlock"),
])
def test_unsupported_models_are_one_clear_error_naming_the_block_type(model, message):
    with torch.device("meta"), pytest.raises(ValueError, match=re.escape(message)):
        convert(model(), "euler")


def test_options_of_a_scheme_object_and_unknown_scheme_parameters_are_refused():
    with pytest.raises(ValueError, match="bad parameters"):
        convert(resnet("resnet18"), "euler", k=0.3)
    with pytest.raises(ValueError, match="apply to a scheme given by name"):
        convert(resnet("resnet18"), schemes.get("euler"), k=0.3)


# ---------------------------------------------------------------------------------------------- search spaces
def test_a_search_space_network_may_name_a_torchvision_resnet():
    from nas.search import load_space
    from nas.domains import SpaceError

    def space(network, scheme=None):
        return load_space({"data": {"name": "cifar10"}, "network": network,
                           "scheme": scheme or {"family": "lm_resnet", "learn": "layer"}})

    shipped = load_space(Path(__file__).resolve().parents[1] / "search_spaces" / "cifar10_resnet18.yaml")
    plan = shipped.plan({"scheme": "lm_resnet", "lm_resnet.learn": "layer", "lm_resnet.k": 0.0, "noise": "none",
                         "h": 1.0, "relu": "step"}, macro="image", in_channels=3, num_classes=10)
    assert plan.spec == ConvertedSpec("resnet18", schemes.get("lm_resnet", k=0.0, learn="layer"), num_classes=10,
                                      stem="cifar")
    with pytest.raises(ValueError, match="takes 3-channel images, the data has 1 channel"):
        shipped.plan(plan_config(shipped), macro="image", in_channels=1, num_classes=10)
    space({"torchvision": "resnet18"}, {"family": "multistep", "steps": 2})  # a full step from the transition
    for network, scheme, message in [
            ({"torchvision": "vgg16"}, None, "network.torchvision: must be one of resnet18"),
            ({"torchvision": "resnet18", "num_classes": 100}, None,
             "network.num_classes: 100, but the data set 'cifar10' has 10 classes"),
            ({"torchvision": "resnet18", "widths": [8]}, None, "network.widths: unknown key"),
            ({"torchvision": "resnet18", "relu": ["step", "gelu"]}, None, "network.relu"),
            ({"torchvision": "resnet18"}, {"family": "multistep", "steps": 3},
             "network.steps_per_stage allows at most 2"),
            ({"torchvision": "resnet18"}, {"family": "hamiltonian"},
             "scheme: hamiltonian cannot run on the blocks of network.torchvision (resnet18): it splits"),
            ({"torchvision": "resnet18"}, [{"family": "named", "names": ["rk4", "hamiltonian"]}],
             "scheme[0]: hamiltonian cannot run on the blocks")]:
        with pytest.raises((SpaceError, ValueError), match=re.escape(message)):
            built = space(network, scheme)
            built.plan(plan_config(built), macro="image", in_channels=3, num_classes=10)


def plan_config(space) -> dict:
    """The config of a space's first sample (Optuna's random sampler)."""
    import optuna

    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    constants = space.sampler_function()(trial)
    return {**trial.params, **constants}


def test_a_noise_schedule_perturbs_the_scheme_steps_at_their_depth_in_the_network():
    from nas.export import random_ops
    from nas.schemes.noise import NoiseSchedule

    schedule = NoiseSchedule(kind="stochastic_depth", shape="linear", p_L=0.5)
    network = convert(resnet("resnet18"), "euler", noise=schedule)
    # steps n = 1, 3, 5, 7 of N = 8 (the transitions are steps 0, 2, 4, 6), at depth (n + 1)/N: the last block
    # keeps p_L, as in Huang et al.
    assert [stage.noise[0].p for stage in network.stages] == pytest.approx([0.875, 0.75, 0.625, 0.5])
    assert ConvertedSpec.from_dict(json.loads(json.dumps(network.spec.to_dict()))).noise == schedule
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(network.eval()(x), network(x))  # eval: the expectation, deterministic
        program = torch.export.export(network, (x,))
    assert random_ops(program) == []


def test_load_checks_a_converted_spec_against_the_budgets_before_building(tmp_path):
    from safetensors.torch import save_file

    (tmp_path / "spec.json").write_text(json.dumps(ConvertedSpec("wide_resnet101_2").to_dict()))
    save_file({"fc.weight": torch.zeros(1)}, str(tmp_path / "weights.safetensors"))
    with pytest.raises(ValueError, match="126,886,696 parameters; the budget is 100,000,000"):
        nas.load(tmp_path)
    (tmp_path / "spec.json").write_text(json.dumps(ConvertedSpec("resnet18", num_classes=10).to_dict()))
    with pytest.raises(ValueError, match="the weights do not match the spec"):
        nas.load(tmp_path)
