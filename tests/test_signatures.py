"""Keyed signatures of a run's Tune experiment (issue 22, defect 10: ``--resume`` of a copied run folder unpickled
a payload planted in ``tune/searcher-state-*.pkl``). Unit level, on the same file systems the driver hands Tune."""
from __future__ import annotations

import json
import os
import stat

import pytest
from hostile import plant_raw_pickle

from nas.driver.cluster import EXPERIMENT_FOLDER, check_experiment_signatures
from nas.driver.signatures import SIGNATURE_FILE, signing_filesystem, verify_experiment
from nas.storage import Location


@pytest.fixture
def state(tmp_path, monkeypatch):
    """This test's own key folder (the user's is never touched)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("NAS_STATE_DIR", str(folder))
    return folder


def write(filesystem, path, data: bytes) -> None:
    with filesystem.open_output_stream(str(path)) as out:
        out.write(data)


def written_run(tmp_path):
    """A run folder whose experiment files were written as Tune writes them, through the driver's file system."""
    run = Location.from_uri(str(tmp_path / "run"))
    storage_path, base = run.tune_storage()
    filesystem = signing_filesystem(base, storage_path, EXPERIMENT_FOLDER)
    tune = tmp_path / "run" / "tune"
    write(filesystem, tune / "tuner.pkl", b"tuner state")
    write(filesystem, tune / "searcher-state-1.pkl", b"searcher state")
    write(filesystem, tune / "experiment_state-1.json", b'{"trials": []}')
    write(filesystem, tune / "trial_a" / "params.pkl", b"params")
    write(filesystem, tune / "trial_a" / "result.json", b"{}")  # not unpickled by Tune: not signed
    return run, tune


def test_the_key_is_created_private_on_first_use(tmp_path, state):
    written_run(tmp_path)
    key = state / "resume.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    signatures = json.loads((tmp_path / "run" / SIGNATURE_FILE).read_text())["files"]
    assert sorted(signatures) == ["tune/experiment_state-1.json", "tune/searcher-state-1.pkl",
                                  "tune/trial_a/params.pkl", "tune/tuner.pkl"]


def test_files_this_user_wrote_verify(tmp_path, state):
    run, _ = written_run(tmp_path)
    check_experiment_signatures(run)  # no error


@pytest.mark.parametrize("change", ["planted", "edited", "unsigned", "nested pickle"])
def test_a_planted_or_changed_file_is_refused_naming_it(tmp_path, state, change):
    run, tune = written_run(tmp_path)
    marker = tmp_path / "payload-ran"
    target = {"planted": tune / "searcher-state-1.pkl", "edited": tune / "experiment_state-1.json",
              "unsigned": tune / "searcher-state-2.pkl", "nested pickle": tune / "trial_b" / "params.pkl"}[change]
    target.parent.mkdir(exist_ok=True)
    plant_raw_pickle(target, marker)
    with pytest.raises(ValueError, match="--trust-run-folder") as refused:
        check_experiment_signatures(run)
    assert str(target) in str(refused.value)
    assert not marker.exists()


def test_a_folder_signed_with_another_users_key_is_refused(tmp_path, state, monkeypatch):
    run, tune = written_run(tmp_path)
    monkeypatch.setenv("NAS_STATE_DIR", str(tmp_path / "someone-else"))
    with pytest.raises(ValueError, match=r"tune/experiment_state-1.json does not match its signature"):
        check_experiment_signatures(run)


def test_a_folder_without_signatures_is_refused_unless_trusted_and_then_adopted(tmp_path, state):
    run, tune = written_run(tmp_path)
    (tmp_path / "run" / SIGNATURE_FILE).unlink()  # e.g. a run written before signatures existed
    with pytest.raises(ValueError, match="has no signature from this user's nas"):
        check_experiment_signatures(run)
    check_experiment_signatures(run, trust=True)  # the user vouches for it: its files are signed
    check_experiment_signatures(run)  # a later resume needs no flag


def test_a_kill_between_signing_and_replacing_a_file_leaves_it_resumable(tmp_path, state, monkeypatch):
    """The digest is recorded before the file is renamed into place: a driver killed in between (SIGKILL) leaves
    the previous content, whose digest is still kept."""
    run, tune = written_run(tmp_path)
    storage_path, base = run.tune_storage()
    filesystem = signing_filesystem(base, storage_path, EXPERIMENT_FOLDER)
    replace = os.replace
    signatures_before = (tmp_path / "run" / SIGNATURE_FILE).read_bytes()

    def die_renaming_the_state(source, target):  # the signature file is written; the state's rename never is
        if str(target).endswith("experiment_state-1.json"):
            raise RuntimeError("SIGKILL")
        replace(source, target)

    monkeypatch.setattr(os, "replace", die_renaming_the_state)
    with pytest.raises(RuntimeError):
        write(filesystem, tune / "experiment_state-1.json", b'{"trials": ["new"]}')
    monkeypatch.setattr(os, "replace", replace)
    assert (tmp_path / "run" / SIGNATURE_FILE).read_bytes() != signatures_before  # the new digest was recorded
    assert (tune / "experiment_state-1.json").read_bytes() == b'{"trials": []}'
    verify_experiment(base, storage_path, EXPERIMENT_FOLDER, run.display)  # no error


def test_the_key_is_refused_when_others_can_read_it(tmp_path, state):
    run, _ = written_run(tmp_path)
    (state / "resume.key").chmod(0o644)
    with pytest.raises(ValueError, match="readable or writable by others; chmod 600"):
        check_experiment_signatures(run)


def test_workers_receive_a_file_system_that_does_not_sign(tmp_path, state):
    """Trials on other nodes hold no key: the pickled file system delegates only."""
    import pickle

    run = Location.from_uri(str(tmp_path / "run"))
    storage_path, base = run.tune_storage()
    worker = pickle.loads(pickle.dumps(signing_filesystem(base, storage_path, EXPERIMENT_FOLDER)))
    write(worker, tmp_path / "run" / "tune" / "tuner.pkl", b"from a worker")
    assert not (tmp_path / "run" / SIGNATURE_FILE).exists()
    with pytest.raises(ValueError, match="tuner.pkl has no signature"):
        check_experiment_signatures(run)


@pytest.mark.parametrize("argv", [["search", "space.yaml", "--resume", "--trust-run-folder"],
                                  ["evaluate", "run1", "--resume", "--trust-run-folder"]])
def test_the_cli_offers_trust_run_folder_on_both_resuming_commands(argv):
    from nas.cli import build_parser

    assert build_parser().parse_args(argv).trust_run_folder is True
    assert build_parser().parse_args(argv[:-1]).trust_run_folder is False


def test_drivers_starting_at_once_agree_on_one_key(state):
    from concurrent.futures import ThreadPoolExecutor

    from nas.driver.signatures import secret_key

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: secret_key(), range(32)))
    assert len(keys) == 1 and len(next(iter(keys))) == 32
    assert [p.name for p in state.iterdir()] == ["resume.key"]  # no temporary left behind
