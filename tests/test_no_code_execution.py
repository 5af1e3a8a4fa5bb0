"""Nothing ``nas`` reads from a run, trial or export folder runs code: pickles planted in each place it reads.

Each planted file would create a marker file when unpickled (``hostile.Payload``; ``test_payload_is_live``
shows it does). ``--resume`` with a planted resume state is also a case of the CLI corpus
(``test_cli_malformed.py``) and of the real interrupted search (``test_search_interrupt.py``).
"""
from __future__ import annotations

import json
import pickle

import pytest
import torch
from hostile import plant_raw_pickle, plant_torch_pickle, snapshot
from run_folders import make_run
from safetensors.torch import save_file

import nas
from nas.cli import main
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.train import TrainConfig, fit, seeded

SPEC = NetworkSpec(scheme="heun", macro="sequence", widths=(4, 8), steps_per_stage=1)


def model_folder(folder):
    """A folder as ``nas.load`` reads it: spec.json and weights.safetensors."""
    folder.mkdir(parents=True)
    with seeded(0):
        model = build_network(SPEC)
    (folder / "spec.json").write_text(json.dumps(SPEC.to_dict()))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "weights.safetensors"))
    return folder, model


def test_payload_is_live(tmp_path):
    marker = tmp_path / "ran"
    torch.load(plant_torch_pickle(tmp_path / "state.pt", marker), weights_only=False)
    assert marker.exists()
    marker.unlink()
    pickle.loads(plant_raw_pickle(tmp_path / "raw", marker).read_bytes())
    assert marker.exists()


def test_trial_resume_state_loads_plain_tensors_only(tmp_path, small_mnist1d, single_thread):
    from nas.search.trainable import read_resume_state

    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match=r"\.resume_state\.pt: refused: .*Unsupported global: GLOBAL io\.open"):
        read_resume_state(plant_torch_pickle(tmp_path / ".resume_state.pt", marker))
    assert not marker.exists()

    # a genuine state, as the trainable saves it, still loads
    saved = {}
    model = build_network(SPEC)
    fit(model, small_mnist1d, TrainConfig(epochs=1, batch_size=64, device="cpu"),
        callback=lambda metrics, checkpoint: saved.update(state=checkpoint()))
    torch.save({"train": saved["state"], "best": {"epoch": 1, "val_acc": 0.5, "val_loss": 1.0},
                "best_weights": saved["state"]["model"], "wall_time": 1.0, "cpu_time": 1.0}, tmp_path / "good.pt")
    state = read_resume_state(tmp_path / "good.pt")
    assert state["train"]["epoch"] == 1 and set(state["best_weights"]) == set(model.state_dict())


def test_nas_load_reads_weights_and_spec_only(tmp_path):
    folder, model = model_folder(tmp_path / "export")
    marker = tmp_path / "ran"
    for stray in ("model.pt", "pytorch_model.bin", ".resume_state.pt"):  # pickles nas never opens
        plant_torch_pickle(folder / stray, marker)
    loaded = nas.load(folder)
    assert not marker.exists()
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)

    plant_raw_pickle(folder / "weights.safetensors", marker)
    with pytest.raises(ValueError, match="weights.safetensors: not a readable safetensors file"):
        nas.load(folder)
    plant_torch_pickle(folder / "weights.safetensors", marker)
    with pytest.raises(ValueError, match="weights.safetensors: not a readable safetensors file"):
        nas.load(tmp_path / "export")
    assert not marker.exists()


def test_nas_load_through_index_json_refuses_a_pickle(tmp_path):
    root = tmp_path / "exports"
    folder, _ = model_folder(root / "t1")
    (root / "index.json").write_text(json.dumps({"models": [{"rank": 1, "folder": "t1"}]}))
    assert isinstance(nas.load(root), torch.nn.Module)
    marker = tmp_path / "ran"
    plant_raw_pickle(folder / "weights.safetensors", marker)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        nas.load(root)
    assert not marker.exists()


LOAD_CASES = {
    "index.json without rank": ({"models": [{"folder": "t1"}]}, "models[0] has no integer 'rank'"),
    "rank that is a string": ({"models": [{"rank": "1", "folder": "t1"}]}, "has no integer 'rank' (got '1')"),
    "folder missing": ({"models": [{"rank": 1}]}, "models[0] has no 'folder'"),
    "no models": ({"models": []}, "lists no model"),
    "models not a list": ({"models": "t1"}, "lists no model"),
    "absolute folder": ({"models": [{"rank": 1, "folder": "{outside}"}]}, "must be a path relative to"),
    "folder with ..": ({"models": [{"rank": 1, "folder": "../outside"}]}, "leads outside"),
    "index.json an array": ([{"rank": 1, "folder": "t1"}], "expected a JSON object, got list"),
}


@pytest.mark.parametrize("case", list(LOAD_CASES))
def test_nas_load_refuses_a_malformed_index(case, tmp_path):
    index, message = LOAD_CASES[case]
    outside, _ = model_folder(tmp_path / "outside")  # a valid model the index must not reach
    root = tmp_path / "exports"
    model_folder(root / "t1")
    (root / "index.json").write_text(json.dumps(index).replace("{outside}", str(outside)))
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=None) as error:
        nas.load(root)
    assert message in str(error.value) and str(error.value).startswith("load: ")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("spec_text, message", [
    ('{"scheme": "euler", "widths": [4, 8], "widths": [8, 16]}', "spec.json: duplicate key 'widths'"),
    ('{"scheme": "euler", "widths": [1000000, 1000000]}', "at least 7,000,019,000,010 parameters"),
    ('{"scheme": "euler", "widths": [8, 16]}', "the weights do not match the spec"),
    ('{"scheme": {"family": "nope"}}', "spec.json:"),
    ('[' * 5000, "values nested too deeply"),
])
def test_nas_load_refuses_a_malformed_spec(spec_text, message, tmp_path):
    folder, _ = model_folder(tmp_path / "export")
    (folder / "spec.json").write_text(spec_text)
    with pytest.raises(ValueError) as error:
        nas.load(folder)
    assert message in str(error.value)


def test_export_reads_spec_and_weights_only(tmp_path, capsys, one_thread):
    run = make_run(tmp_path / "results", "planted", [{"scheme": "euler"}])
    trial = run / "trials" / "planted_00000"
    marker = tmp_path / "ran"
    for stray in (".resume_state.pt", "model.pt"):  # the trial folder's resumable state is never read by export
        plant_torch_pickle(trial / stray, marker)
    assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 0
    assert not marker.exists()
    assert (tmp_path / "out" / "planted_00000" / "model.pt2").is_file()

    plant_raw_pickle(trial / "weights.safetensors", marker)
    assert main(["export", str(run), "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "weights.safetensors: not a readable safetensors file" in err[-1]
    assert not marker.exists() and not (tmp_path / "out2").exists()


def test_evaluate_resume_refuses_a_planted_training_state(tmp_path, capsys, one_thread):
    """``nas evaluate --resume`` reads every saved training state with ``weights_only`` before Ray starts."""
    from nas.evaluation import run as evaluation
    from nas.evaluation.selection import select
    from nas.evaluation.trainable import job_key

    run = make_run(tmp_path / "results", "planted", [{"scheme": "heun"}, {"scheme": "euler", "baseline": True}])
    candidates, note = select(run, 1)
    folder = run / evaluation.EVALUATION_FOLDER
    folder.mkdir()
    (folder / evaluation.PLAN_FILE).write_text(json.dumps({
        "format": evaluation.FORMAT, "run": "planted", "top": 1, "seeds": [0, 1], "epochs": 1, "resnet": note,
        "candidates": [c.to_dict() for c in candidates]}))
    state = folder / "trials" / job_key(candidates[0].architecture_id, 0) / ".resume_state.pt"
    state.parent.mkdir(parents=True)
    marker = tmp_path / "ran"
    plant_torch_pickle(state, marker)
    before = snapshot(tmp_path)
    assert main(["evaluate", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and ".resume_state.pt: refused" in err[0] and "Unsupported global: GLOBAL io.open" in err[0]
    assert not marker.exists() and snapshot(tmp_path) == before

    # A plan that nas evaluate did not write is refused too (nothing in it is trusted).
    (folder / evaluation.PLAN_FILE).write_text(json.dumps({"format": "other", "run": "planted"}))
    assert main(["evaluate", str(run), "--resume"]) == 2
    assert "was not written by nas evaluate" in capsys.readouterr().err
    assert not marker.exists()
