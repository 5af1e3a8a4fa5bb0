"""``nas train`` end to end on tiny data, and its one-line errors with exit status 2."""
from __future__ import annotations

import json

import pytest

from nas.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")

TINY = ["--epochs", "1", "--widths", "4,8", "--steps-per-stage", "1", "--batch-size", "32"]


def test_train_lm_resnet_on_tiny_mnist1d(capsys, tmp_path):
    output = tmp_path / "result.json"
    status = main(["train", "--scheme", "lm_resnet", "--k", "0.3", "--data", "mnist1d", "--num-samples", "100",
                   "--epochs", "2", *TINY[2:], "--output", str(output)])
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("nas train: lm_resnet(k=0.3) on mnist1d (80 train / 20 val / 25 test)")
    assert lines[1].startswith("epoch 1/2") and lines[2].startswith("epoch 2/2")
    assert lines[-1].startswith("final: status completed, 2 epochs, val acc") and "test acc" in lines[-1]
    saved = json.loads(output.read_text())
    assert saved["network"]["scheme"] == {"family": "lm_resnet", "name": "lm_resnet", "k": 0.3, "learn": "fixed"}
    assert saved["network"]["widths"] == [4, 8] and saved["network"]["macro"] == "sequence"
    assert saved["train"]["status"] == "completed" and len(saved["train"]["history"]) == 2
    assert saved["data"]["num_samples"] == 100 and 0 <= saved["test"]["acc"] <= 1
    assert not list(output.parent.glob(".*.tmp"))  # written atomically, nothing left behind


def test_train_euler_on_toy2d_with_the_mlp_macro(capsys):
    status = main(["train", "--scheme", "euler", "--data", "toy2d", "--toy2d-kind", "moons", "--num-samples", "80",
                   "--schedule", "step", "--no-augment", *TINY])
    out = capsys.readouterr().out
    assert status == 0
    assert "euler on toy2d (64 train / 16 val / 20 test), mlp widths 4,8" in out
    assert "final: status completed, 1 epochs" in out


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "epochs: must be a positive integer"),
    (["--batch-size", "-1"], "batch_size: must be a positive integer"),
    (["--data", "imagenet"], "unknown data set 'imagenet'"),
    (["--schedule", "linear"], "schedule: must be one of"),
    (["--widths", "8,x"], "widths: expected comma-separated positive integers"),
    (["--scheme", "nope"], "unknown scheme 'nope'"),
    (["--scheme", "euler", "--k", "0.3"], "bad parameters"),
    (["--device", "tpu"], "device: must be one of"),
    (["--data", "cifar10", "--data-root", "/nonexistent/folder"], "cifar-10-batches-py"),
    (["--epochs", "three"], "invalid int value"),
    (["--data", "toy2d", "--num-samples", "40", "--macro", "sequence"],
     "--macro: 'sequence' does not take samples of shape (2,)"),
    (["--force"], "--force: only with --out DIR"),
])
def test_bad_input_is_one_line_on_stderr_with_status_2(capsys, argv, message):
    try:
        status = main(["train", *argv])
    except SystemExit as exit_:  # argparse's own errors (e.g. a non-integer) exit from the parser
        status = exit_.code
    captured = capsys.readouterr()
    assert status == 2
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err


# ------------------------------------------------------------------------------------------ --spec
SEARCHED = {"family": "runge_kutta", "name": "rk_s2", "A": [[0, 0], ["1/3", 0]], "b": ["1/4", "3/4"]}


@pytest.fixture(scope="module")
def searched_run(tmp_path_factory):
    import torch

    from run_folders import make_run

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("results")
    run_dir = make_run(root, "searched", [{"scheme": SEARCHED, "seed": 3}])
    torch.set_num_threads(before)
    return run_dir


def test_train_spec_of_an_export_trains_that_architecture(searched_run, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", str(searched_run), "--top", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    model_folder = out / "searched_00000"
    output = tmp_path / "result.json"
    status = main(["train", "--spec", str(model_folder), "--data", "mnist1d", "--num-samples", "200", "--epochs", "1",
                   "--output", str(output)])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].startswith("nas train: rk_s2 on mnist1d") and "sequence widths 4,8 x 2 steps" in lines[0]
    saved = json.loads(output.read_text())
    assert saved["network"] == json.loads((model_folder / "spec.json").read_text())
    assert saved["train"]["status"] == "completed" and saved["train"]["config"]["seed"] == 0  # TrainConfig default
    # the export's output folder itself: its rank-1 model
    assert main(["train", "--spec", str(out), "--data", "mnist1d", "--num-samples", "200", "--epochs", "1"]) == 0
    assert capsys.readouterr().out.startswith("nas train: rk_s2 on mnist1d")


def test_train_spec_of_a_trial_folder_takes_its_train_config_flags_override(searched_run, tmp_path, capsys):
    trial = searched_run / "trials" / "searched_00000"
    recorded = json.loads((trial / "train_config.json").read_text())
    output = tmp_path / "result.json"
    assert main(["train", "--spec", str(trial / "spec.json"), "--data", "mnist1d", "--num-samples", "200",
                 "--lr", "0.01", "--output", str(output)]) == 0
    config = json.loads(output.read_text())["train"]["config"]
    assert config == {**recorded, "lr": 0.01}
    assert config["seed"] == 3 and config["batch_size"] == 64 and config["epochs"] == 1


def test_train_spec_of_a_trial_or_export_folder_uses_the_runs_data_by_default_and_says_so(searched_run, tmp_path,
                                                                                         capsys):
    # the run trained on 200 MNIST-1D signals (run_folders.DATA): not the default 4,000
    output = tmp_path / "result.json"
    assert main(["train", "--spec", str(searched_run / "trials" / "searched_00000"), "--epochs", "1",
                 "--output", str(output)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("nas train: rk_s2 on mnist1d (160 train / 40 val / 50 test)")
    assert lines[1].startswith("data: mnist1d ") and lines[1].endswith("(the data of the run that trained --spec)")
    assert json.loads(output.read_text())["data"]["num_samples"] == 200
    out = tmp_path / "export"
    assert main(["export", str(searched_run), "--top", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--spec", str(out / "searched_00000"), "--epochs", "1"]) == 0  # an export: its card's data
    assert "(160 train / 40 val / 50 test)" in capsys.readouterr().out
    assert main(["train", "--spec", str(searched_run / "trials" / "searched_00000"), "--epochs", "1",
                 "--num-samples", "300"]) == 0  # a data flag: the flags decide, and say so
    lines = capsys.readouterr().out.splitlines()
    assert "(240 train / 60 val / 75 test)" in lines[0] and lines[1].endswith("(the command-line flags)")


@pytest.mark.parametrize("case, message", [
    ("unknown_key", "spec.json: network spec: unknown key(s) depth; allowed keys:"),
    ("network_flag", "--spec: the spec.json defines the network; leave out --scheme, --widths"),
    ("missing", "does not exist (give a trial folder, an export folder or a spec.json file)"),
    ("wrong_data", "--spec: the network takes 1 input channel(s) and 10 classes, but --data toy2d has"),
])
def test_train_spec_bad_input_is_one_line_with_status_2(searched_run, tmp_path, capsys, case, message):
    spec = json.loads((searched_run / "trials" / "searched_00000" / "spec.json").read_text())
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({**spec, "depth": 3} if case == "unknown_key" else spec))
    argv = ["train", "--spec", str(tmp_path / "nope" if case == "missing" else path), "--epochs", "1"]
    if case == "network_flag":
        argv += ["--widths", "4,8", "--scheme", "euler"]
    if case == "wrong_data":
        argv += ["--data", "toy2d", "--num-samples", "40"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_train_out_keeps_an_export_folder_whose_program_is_the_trained_model(capsys, tmp_path, monkeypatch):
    """``nas train --out`` (issue 22): the layout of ``nas export``, and its ``model.pt2``, loaded with plain
    torch, computes what the network just trained computes; ``--force`` replaces only an export folder."""
    import torch

    import nas.train
    from nas.data import load_dataset

    trained = {}
    real_fit = nas.train.fit

    def keep_model(model, *args, **kwargs):
        trained["model"] = model
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(nas.train, "fit", keep_model)
    out = tmp_path / "kept"
    argv = ["train", "--scheme", "heun", "--num-samples", "100", *TINY, "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()[-1]
    index = json.loads((out / "index.json").read_text())
    (model,) = index["models"]
    folder = out / model["folder"]
    assert printed == f"kept in {folder}" and model["rank"] == 1 and index["trained_by"] == "nas train"
    assert {"model.pt2", "weights.safetensors", "spec.json", "card.json", "card.md", ".nas-export"} <= {
        p.name for p in folder.iterdir()} and (out / ".nas-export").is_file()
    card = json.loads((folder / "card.json").read_text())
    assert card["search"]["trained_by"] == "nas train" and card["data"]["options"]["num_samples"] == 100

    program = torch.export.load(str(folder / "model.pt2")).module()
    inputs = load_dataset("mnist1d", num_samples=100, seed=0).test.x.to(torch.float32)
    with torch.no_grad():
        assert torch.allclose(program(inputs), trained["model"].eval()(inputs), atol=1e-5)

    assert main(argv) == 2 and "already exists (pass --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0  # an earlier export: replaced
    capsys.readouterr()
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    assert main([*argv[:-1], str(foreign), "--force"]) == 2
    assert "was not written by nas export" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]


def test_train_out_never_replaces_a_run_folder_or_anything_in_it(capsys, tmp_path):
    """``--out`` is refused as ``nas export --out`` is (issue 22, defect 1), before any training."""
    run = tmp_path / "run"
    (run / "trials").mkdir(parents=True)
    (run / "search.json").write_text("{}")
    for target in (run, run / "trials"):
        assert main(["train", *TINY, "--out", str(target), "--force"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "--force never replaces anything in a run folder" in captured.err
    assert sorted(p.name for p in run.iterdir()) == ["search.json", "trials"] and not list((run / "trials").iterdir())
