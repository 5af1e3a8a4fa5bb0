"""nas.export: torch.export programs that run without nas, nas.load round trips, cards, atomic folders."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from run_folders import DATA, make_run, set_metric
from safetensors.torch import load_file

import nas
from nas.data import load_dataset
from nas.export import MODEL_FILES, export_run, export_trial, random_ops
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.schemes.noise import NoiseSchedule

NOISE = NoiseSchedule(kind="stochastic_depth", shape="linear", p_L=0.5)


pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_thread):
    run_dir = make_run(tmp_path_factory.mktemp("results"), "search", [
        {"scheme": "euler", "baseline": True},                 # search_00000: the ResNet baseline
        {"scheme": "heun"},                                    # search_00001
        {"scheme": "lm_resnet", "noise": NOISE},               # search_00002: k learned per layer, noisy
        {"scheme": "heun", "status": "diverged"},              # search_00003
    ])
    # A known ranking (one epoch on 160 samples leaves near-ties): lm_resnet, heun, ResNet.
    for trial_id, acc in (("search_00002", 0.75), ("search_00001", 0.5), ("search_00000", 0.25),
                          ("search_00003", 0.875)):
        set_metric(run_dir, trial_id, best_val_acc=acc)
    return run_dir


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "best"
    return out, export_run(run, out, top=2)


def _trained_model(run_dir, trial_id):
    """The in-memory model of a trial, rebuilt from the run's own files (not from the export)."""
    folder = run_dir / "trials" / trial_id
    model = build_network(NetworkSpec.from_dict(json.loads((folder / "spec.json").read_text())))
    model.load_state_dict(load_file(str(folder / "weights.safetensors")))
    return model.eval()


def test_export_run_writes_the_ranked_finished_trials(exported):
    out, folders = exported
    # the diverged trial has the best accuracy on paper but is not finished: it is never exported
    assert [f.name for f in folders] == ["search_00002", "search_00001"]
    index = json.loads((out / "index.json").read_text())
    assert [(m["rank"], m["trial_id"]) for m in index["models"]] == [(1, "search_00002"), (2, "search_00001")]
    for folder in folders:
        assert set(MODEL_FILES) <= {p.name for p in folder.iterdir()}
    # nothing left over beside the target (the staging folder was renamed into place)
    assert [p.name for p in out.parent.iterdir()] == ["best"]


_LOAD_WITHOUT_NAS = textwrap.dedent("""
    import sys
    sys.path.extend(sys.argv[1:3])   # site-packages only: no .pth files, so no editable nas install


    class NoNas:  # and should nas be installed into site-packages itself, it stays unimportable
        def find_spec(self, name, path=None, target=None):
            if name == "nas" or name.startswith("nas."):
                raise ModuleNotFoundError(f"No module named {name!r}")


    sys.meta_path.insert(0, NoNas())
    try:
        import nas
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError("nas must not be importable here")
    import numpy as np, torch
    program = torch.export.load("model.pt2").module()
    inputs = np.load("inputs.npz")
    with torch.no_grad():
        outputs = {name: program(torch.from_numpy(inputs[name])).numpy() for name in inputs.files}
    np.savez("outputs.npz", **outputs)
    print("nas" in sys.modules)
""")


def test_exported_program_matches_the_model_in_a_process_without_nas(run, exported, tmp_path):
    out, folders = exported
    work = tmp_path / "elsewhere"  # cwd outside the repository
    work.mkdir()
    generator = torch.Generator().manual_seed(0)
    inputs = {f"batch_{n}": torch.randn(n, 1, 40, generator=generator).numpy() for n in (1, 7, 64)}
    np.savez(work / "inputs.npz", **inputs)
    (work / "model.pt2").write_bytes((folders[0] / "model.pt2").read_bytes())
    paths = sysconfig.get_paths()
    # -I: no user site, no PYTHONPATH, no cwd on sys.path; -S: no site (its .pth files would add the repo)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _LOAD_WITHOUT_NAS, paths["purelib"], paths["platlib"]],
                          cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    outputs = np.load(work / "outputs.npz")
    model = _trained_model(run, "search_00002")
    with torch.no_grad():
        for name, x in inputs.items():
            expected = model(torch.from_numpy(x)).numpy()
            assert outputs[name].shape == expected.shape
            assert np.abs(outputs[name] - expected).max() <= 1e-5, name


def test_nas_load_round_trip_is_identical_and_trainable(run, exported):
    out, folders = exported
    model = nas.load(folders[0])
    original = _trained_model(run, "search_00002")
    x = torch.randn(5, 1, 40, generator=torch.Generator().manual_seed(1))
    assert not model.training
    with torch.no_grad():
        assert torch.equal(model(x), original(x))
        assert torch.equal(nas.load(out)(x), model(x))  # an export_run folder loads its rank-1 model
    learned = [p for name, p in model.named_parameters() if "learned_k" in name]
    assert learned, "the LM-ResNet trial should have learned k parameters"
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = load_dataset(**DATA)
    xb, yb = next(iter(data.train.batches(32)))
    loss = torch.nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == set(before)  # every parameter, learned k included, received a gradient step


def test_card_records_coefficients_diagnostics_and_metrics(run, exported):
    out, folders = exported
    lm_card = json.loads((folders[0] / "card.json").read_text())
    model = _trained_model(run, "search_00002")
    learned = [row["k"] for row in lm_card["scheme"]["per_step"] if "k" in row]
    expected = [p.item() for name, p in model.named_parameters() if "learned_k" in name]
    assert learned == pytest.approx(expected, abs=0)
    # test accuracy computed at export, on the test split of the run's data set
    test = load_dataset(**DATA).test
    with torch.no_grad():
        correct = (model(test.x).argmax(1) == test.y).sum().item() / len(test)
    assert lm_card["metrics"]["test_acc"] == pytest.approx(correct, abs=1e-12)
    assert lm_card["metrics"]["test_samples"] == len(test)
    assert lm_card["metrics"]["params"] == sum(p.numel() for p in model.parameters())
    assert lm_card["metrics"]["best_val_acc"] == 0.75
    assert lm_card["metrics"]["vs_resnet"] == pytest.approx(0.75 - 0.25)
    assert lm_card["data"]["options"]["num_samples"] == DATA["num_samples"]
    assert lm_card["search"]["run"] == "search"

    assert lm_card["noise"]["schedule"] == NOISE.to_dict()
    assert lm_card["noise"]["total_variance"] == pytest.approx(NOISE.total_variance(4, 1.0))

    heun_card = json.loads((folders[1] / "card.json").read_text())
    assert heun_card["scheme"]["coefficients"]["b"] == ["1/2", "1/2"]
    assert heun_card["diagnostics"]["available"] is True
    assert heun_card["diagnostics"]["report"]["order"] == 2
    markdown = (folders[1] / "card.md").read_text()
    assert markdown.startswith("# heun (trial search_00001 of run search)")
    assert heun_card["diagnostics"]["modified_equation"]["latex"] in markdown
    for name in heun_card["files"]:
        assert (folders[1] / name).stat().st_size > 0


def test_noisy_scheme_exports_a_deterministic_program(run, exported):
    out, folders = exported
    program = torch.export.load(str(folders[0] / "model.pt2"))
    assert random_ops(program) == []
    # one symbolic dimension, the batch, valid from 1 up (a traced batch of 2 must not specialise it)
    assert [(int(r.lower), str(r.upper)) for r in program.range_constraints.values()] == [(1, "int_oo")]
    model = _trained_model(run, "search_00002")
    x = torch.randn(16, 1, 40, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        first, second = program.module()(x), program.module()(x)
        assert torch.equal(first, second)
        assert torch.allclose(first, model(x), atol=1e-5, rtol=0)  # the eval step: the expectation
        model.train()  # the same network in training mode does sample noise: the check above is not vacuous
        torch.manual_seed(0)
        noisy_a = model(x)
        noisy_b = model(x)
    assert not torch.equal(noisy_a, noisy_b)


def test_random_ops_finds_random_operators_in_a_program():
    class Noisy(torch.nn.Module):
        def forward(self, x):
            return x + torch.randn_like(x)

    program = torch.export.export(Noisy(), (torch.zeros(2, 3),))
    assert any("randn" in name for name in random_ops(program))


def test_export_trial_writes_one_model_folder(run, tmp_path):
    folder = export_trial(run, "search_00000", tmp_path / "resnet")
    card = json.loads((folder / "card.json").read_text())
    assert card["baseline"] is True and card["rank"] == 3
    assert card["metrics"]["vs_resnet"] == 0


def test_interrupted_export_leaves_no_folder(run, tmp_path, monkeypatch):
    import nas.export.markdown

    def interrupt(card):
        raise KeyboardInterrupt

    monkeypatch.setattr(nas.export.markdown, "card_markdown", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_run(run, tmp_path / "out", trial="search_00000")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"trial": "nope"}, "no trial 'nope'"),
    ({"trial": "search_00003"}, "status diverged"),
    ({"top": 0}, "top: must be a positive integer"),
])
def test_bad_choices_are_value_errors_and_write_nothing(run, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export_run(run, tmp_path / "out", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_existing_target_is_refused_unless_replaced(run, tmp_path):
    target = tmp_path / "out"
    export_run(run, target, trial="search_00000")
    with pytest.raises(ValueError, match="already exists"):
        export_run(run, target, trial="search_00001")
    assert sorted(p.name for p in target.iterdir()) == [".nas-export", "index.json", "search_00000"]
    export_run(run, target, trial="search_00001", replace=True)  # an earlier export is replaced
    assert sorted(p.name for p in target.iterdir()) == [".nas-export", "index.json", "search_00001"]
    assert (target / "search_00001" / ".nas-export").is_file()
    export_trial(run, "search_00000", tmp_path / "one")
    export_trial(run, "search_00001", tmp_path / "one", replace=True)  # a model folder too
    assert json.loads((tmp_path / "one" / "card.json").read_text())["trial_id"] == "search_00001"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "out"]


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


@pytest.mark.parametrize("planted", ["thesis.tex", "search_00000/notes.txt", "marker-less", "sub/deep.txt"])
def test_replace_never_deletes_what_export_did_not_write(run, tmp_path, planted):
    # --force replaces an export folder only: a user's folder, an export holding a user's file, or one
    # without the marker is refused before any work, and nothing in it is touched.
    target = tmp_path / "out"
    if planted == "thesis.tex":
        target.mkdir()
        (target / "thesis.tex").write_text("x")
    else:
        export_run(run, target, trial="search_00000")
        if planted == "marker-less":
            (target / ".nas-export").unlink()
        else:
            (target / planted).parent.mkdir(exist_ok=True)
            (target / planted).write_text("mine")
    before = _tree(target)
    with pytest.raises(ValueError, match="was not written by nas export"):
        export_run(run, target, trial="search_00001", replace=True)
    with pytest.raises(ValueError, match="was not written by nas export"):
        export_trial(run, "search_00001", target, replace=True)
    assert _tree(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left either


def test_replace_never_touches_a_run_folder_or_anything_inside_it(run, tmp_path):
    before = _tree(run)
    for target in (run, run / "trials", run / "trials" / "search_00001"):
        with pytest.raises(ValueError, match="run folder"):
            export_trial(run, "search_00000", target, replace=True)
    # even an export folder is not replaced once it sits inside a run folder
    inside = tmp_path / "results" / "other"
    inside.mkdir(parents=True)
    (inside / "search.json").write_text("{}")
    export_trial(run, "search_00000", inside / "export")
    with pytest.raises(ValueError, match="is inside the run folder"):
        export_trial(run, "search_00000", inside / "export", replace=True)
    assert _tree(run) == before


def test_replace_checks_the_target_again_just_before_the_swap(run, tmp_path, monkeypatch):
    # A file dropped into the old export while the new one was being written is not deleted with it.
    from nas.export import folders

    target = tmp_path / "out"
    export_trial(run, "search_00000", target)
    real = folders._export_into

    def export_and_drop(folder, *args):
        (target / "late.txt").write_text("mine")
        return real(folder, *args)

    monkeypatch.setattr(folders, "_export_into", export_and_drop)
    with pytest.raises(ValueError, match="late.txt"):
        export_trial(run, "search_00001", target, replace=True)
    assert (target / "late.txt").read_text() == "mine"
    assert json.loads((target / "card.json").read_text())["trial_id"] == "search_00000"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_memory_efficient_reversible_scheme_exports(tmp_path):
    # A custom autograd.Function (recompute-by-inversion backward) is inlined by torch.export: the program
    # computes the same forward, and the card says why there is no stability-region plot.
    run_dir = make_run(tmp_path / "results", "reversible", [{"scheme": "hamiltonian", "memory_efficient": True}])
    (folder,) = export_run(run_dir, tmp_path / "out")
    program = torch.export.load(str(folder / "model.pt2")).module()
    model = nas.load(folder)
    x = torch.randn(3, 1, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (program(x) - model(x)).abs().max().item() <= 1e-5
    card = json.loads((folder / "card.json").read_text())
    assert "stability.png" not in card["files"]
    assert "No stability-region plot: the hamiltonian family" in (folder / "card.md").read_text()


def test_full_disk_during_export_is_one_line_exit_2_and_leaves_no_folder(run, tmp_path, monkeypatch, capsys):
    """Issue 22, defect 8: torch's C++ writer aborted the process (exit 134) on a full disk; the files are now
    written by Python, so ENOSPC (simulated here) is an OSError: one line, exit 2, no folder left."""
    import errno

    import nas.export.program
    from nas.cli import main

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(nas.export.program, "_write_bytes", full)
    status = main(["export", str(run), "--out", str(tmp_path / "out"), "--trial", "search_00001"])
    lines = capsys.readouterr().err.splitlines()
    assert status == 2
    assert len(lines) == 1 and lines[0].startswith("nas export: error: ") and "No space left" in lines[0], lines
    assert list(tmp_path.iterdir()) == []  # neither the export nor its staging folder


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (every write fails ENOSPC)")
def test_program_and_weights_on_a_full_device_raise_oserror():
    """/dev/full is a real full device: ``torch.export.save`` onto it aborts the process, ours raise ENOSPC."""
    import errno

    from nas.export.program import save_program, save_weights

    model = torch.nn.Linear(3, 2).eval()
    program = torch.export.export(model, (torch.randn(2, 3),))
    for save in (lambda: save_program(program, Path("/dev/full")),
                 lambda: save_weights({"w": torch.zeros(3)}, Path("/dev/full"), metadata={"format": "test"})):
        with pytest.raises(OSError) as raised:
            save()
        assert raised.value.errno == errno.ENOSPC


def test_a_network_with_a_non_finite_output_is_refused_by_name():
    """A network that overflows is a ValueError naming the cause, not "exported program differs by nan"."""
    from nas.export.program import export_program

    class Overflowing(torch.nn.Module):
        def forward(self, x):
            return x * 1e30 * 1e30  # float32 overflows to inf

    with pytest.raises(ValueError, match="output is not finite"):
        export_program(Overflowing().eval(), torch.ones(2, 3), "t1")


def test_top_ranks_as_the_leaderboard_baselines_included_stopped_trials_left_out(run, tmp_path, capsys):
    """``--top`` exports the leaderboard's first rows (issue 22): a stopped trial with the best score on paper
    is not compared at the full budget, and a baseline that beats the searched trials is rank 1, marked."""
    import shutil

    import pandas as pd

    from nas.cli import main

    copy = shutil.copytree(run, tmp_path / "results" / "search")
    set_metric(copy, "search_00001", status="stopped", best_val_acc=0.95)  # heun: stopped by ASHA
    set_metric(copy, "search_00000", best_val_acc=0.9)  # the ResNet baseline beats lm_resnet (0.75)
    assert main(["leaderboard", str(copy), "--format", "csv"]) == 0
    board = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"trial_id": str})
    assert list(board["trial_id"]) == ["search_00000", "search_00002"]

    folders = export_run(copy, tmp_path / "top", top=2)
    assert [f.name for f in folders] == list(board["trial_id"])
    index = json.loads((tmp_path / "top" / "index.json").read_text())
    assert [(m["rank"], m["trial_id"], m["baseline"]) for m in index["models"]] == [
        (1, "search_00000", True), (2, "search_00002", False)]
    assert "baselines ranked among the searched trials" in index["ranking"]
    # a trial the leaderboard does not rank is exported by --trial, without a rank on its card
    (stopped,) = export_run(copy, tmp_path / "stopped", trial="search_00001")
    assert json.loads((stopped / "card.json").read_text())["rank"] is None
    assert "not ranked by the leaderboard" in (stopped / "card.md").read_text()
