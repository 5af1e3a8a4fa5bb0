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
