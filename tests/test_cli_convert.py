"""``nas convert`` (pretrained weights read offline from the torch.hub cache) and a search over schemes on a
converted resnet18 (``search_spaces/cifar10_resnet18.yaml``) on a tiny synthetic CIFAR-10 folder."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
import torch
import torchvision
import yaml

import nas
from nas.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py


def checkpoint(torch_home: Path, weights) -> Path:
    """Where torch.hub caches ``weights`` under ``torch_home`` (the file name of its URL)."""
    return torch_home / "hub" / "checkpoints" / Path(urlparse(weights.url).path).name


def test_convert_reads_pretrained_weights_from_the_torch_hub_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    file = checkpoint(tmp_path / "torch", torchvision.models.ResNet18_Weights.DEFAULT)
    file.parent.mkdir(parents=True)
    torch.manual_seed(5)
    pretrained = torchvision.models.resnet18(weights=None)  # stands for the ImageNet weights (no network here)
    torch.save(pretrained.state_dict(), file)
    out = tmp_path / "lm18"
    status = main(["convert", "resnet18", "--scheme", "lm_resnet", "--k", "0.3", "--weights", "DEFAULT",
                   "--num-classes", "10", "--image-size", "32", "--out", str(out)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert f"torchvision's DEFAULT from {file}; re-initialised: fc.bias, fc.weight" in printed.out
    assert printed.out.splitlines()[-1] == str(out)

    network = nas.load(out)
    state = network.state_dict()
    assert torch.equal(state["conv1.weight"], pretrained.conv1.weight)
    assert torch.equal(state["transitions.1.shortcut.0.weight"], pretrained.layer2[0].downsample[0].weight)
    assert torch.equal(state["stages.3.residuals.0.conv2.weight"], pretrained.layer4[1].conv2.weight)
    assert state["fc.weight"].shape == (10, 512)
    card = json.loads((out / "card.json").read_text())
    assert card["conversion"]["weights"] == {"source": "pretrained", "weights": "DEFAULT", "file": str(file),
                                             "reinitialised": ["fc.bias", "fc.weight"],
                                             "text": f"torchvision's DEFAULT from {file}; re-initialised: fc.bias, "
                                                     "fc.weight"}
    assert card["architecture"]["torchvision"] == "resnet18" and card["architecture"]["input_shape"] == [3, 32, 32]
    assert card["conversion"]["check"]["max_abs_difference"] > 0  # k = 0.3 is not the ResNet
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(torch.export.load(str(out / "model.pt2")).module()(x), network(x))


def test_a_missing_checkpoint_is_one_line_naming_where_torchvision_caches_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.chdir(tmp_path)
    status = main(["convert", "resnet50", "--weights", "IMAGENET1K_V2", "--out", "out"])
    err = capsys.readouterr().err.splitlines()
    expected = checkpoint(tmp_path / "torch", torchvision.models.ResNet50_Weights.IMAGENET1K_V2)
    assert status == 2 and len(err) == 1
    assert err[0].startswith(f"nas convert: error: weights IMAGENET1K_V2: no checkpoint at {expected} (nothing is "
                             "downloaded")
    assert list(tmp_path.iterdir()) == []  # nothing written, no cache folder created


def test_a_cached_checkpoint_that_would_run_code_is_refused(tmp_path, monkeypatch, capsys):
    from hostile import plant_torch_pickle

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    file = checkpoint(tmp_path / "torch", torchvision.models.ResNet18_Weights.DEFAULT)
    file.parent.mkdir(parents=True)
    marker = tmp_path / "payload-ran"
    plant_torch_pickle(file, marker)
    status = main(["convert", "resnet18", "--weights", "DEFAULT", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.splitlines()
    assert status == 2 and len(err) == 1 and f"weights DEFAULT: {file}: refused" in err[0]
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_search_over_schemes_on_resnet18_runs_end_to_end_on_tiny_cifar(ray_session, cifar_folder, tmp_path):
    from nas.export import export_run
    from nas.leaderboard import read_learned_coefficients

    root, _, _ = cifar_folder("cifar10", per_file=8, num_test=8)
    shipped = yaml.safe_load((ROOT / "search_spaces" / "cifar10_resnet18.yaml").read_text())
    space = {**shipped, "data": {**shipped["data"], "root": str(root), "num_workers": 0},
             "train": {**shipped["train"], "epochs": 1, "batch_size": 16},
             "search": {**shipped["search"], "scheduler": "none", "cpus_per_trial": 1, "gpus_per_trial": 0}}
    path = tmp_path / "cifar10_resnet18.yaml"
    path.write_text(yaml.safe_dump(space))
    results = tmp_path / "results"
    assert main(["search", str(path), "--trials", "2", "--results-dir", str(results)]) == 0

    run_dir = results / "cifar10_resnet18"
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert len(frame) == 2 and set(frame["status"]) == {"completed"}
    assert set(frame["scheme_name"]) == {"euler", "lm_resnet"}  # the baselines: resnet18 and LM-ResNet-18
    assert set(frame["widths"]) == {"64-128-256-512"} and set(frame["steps_per_stage"]) == {2}
    params = dict(zip(frame["scheme_name"], frame["params"]))
    assert params["lm_resnet"] == params["euler"] + 4  # one learned k per stage
    lm = run_dir / frame.loc[frame["scheme_name"] == "lm_resnet", "trial_dir"].item()
    assert json.loads((lm / "spec.json").read_text())["torchvision"] == "resnet18"
    assert list(read_learned_coefficients(lm)["depth"]) == [1, 3, 5, 7]

    (folder,) = export_run(run_dir, tmp_path / "export", top=1)  # nas export reads the converted spec
    model = nas.load(folder)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(torch.export.load(str(folder / "model.pt2")).module()(x), model(x))
    card = json.loads((folder / "card.json").read_text())
    assert card["metrics"]["test_samples"] == 8 and card["architecture"]["stem"] == "cifar"
