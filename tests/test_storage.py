"""nas.storage: one Location API over a local folder and a real S3 server (moto, on localhost)."""
from __future__ import annotations

import json

import pytest

from nas.search.records import TrialFolder, read_trial
from nas.storage import Location, is_uri


@pytest.fixture(params=["local", "s3"])
def location(request, tmp_path):
    if request.param == "local":
        return Location.from_uri(tmp_path / "store")
    return Location.from_uri(request.getfixturevalue("s3_uri")("store"))


def test_write_read_list_delete_round_trip(location):
    run = location / "run"
    assert not run.exists() and run.list() == []
    run.write_json("search.json", {"a": 1})
    run.write_bytes("trials/t1/weights.bin", b"\x00\x01")
    run.write_text("notes.txt", "hello")
    assert run.is_dir() and run.is_file("search.json") and not run.is_file("trials")
    assert run.list() == ["notes.txt", "search.json", "trials"]
    assert run.read_json("search.json") == {"a": 1}
    assert run.read_text("search.json").endswith("\n")
    assert run.read_bytes("trials/t1/weights.bin") == b"\x00\x01"
    run.delete("notes.txt")
    run.delete("notes.txt")  # absent: nothing happens
    assert run.list() == ["search.json", "trials"]
    with pytest.raises(ValueError, match="not JSON|Out of range"):
        run.write_json("bad.json", {"x": float("nan")})
    assert not run.exists("bad.json")  # nothing half-written


def test_uri_survives_joining_and_rebuilding(location):
    child = location / "run" / "trials"
    rebuilt = Location.from_uri(child.uri)
    child.write_text("x.txt", "1")
    assert rebuilt.read_text("x.txt") == "1" and rebuilt.path == child.path
    assert child.name == "trials"
    assert "endpoint_override" not in child.display()  # readable names leave the endpoint out
    with pytest.raises(ValueError, match=r"'\.', '\.\.'"):
        location / "../escape"


def test_trial_folder_is_absent_until_its_marker_is_written(location):
    folder = location / "trials" / "abc"
    folder.write_json("spec.json", {"half": True})  # a writer killed before its marker
    assert not TrialFolder(folder).exists and read_trial(folder) is None
    TrialFolder(folder).publish({"spec": 1}, {"seed": 0}, {"trial_id": "abc", "status": "stopped"},
                                weights={})
    assert TrialFolder(folder).exists
    assert read_trial(folder) == {"spec": {"spec": 1}, "train_config": {"seed": 0},
                                  "metrics": {"trial_id": "abc", "status": "stopped"}}
    assert sorted(folder.list()) == ["metrics.json", "spec.json", "train_config.json", "weights.safetensors"]
    TrialFolder(folder).update_metrics({"trial_id": "abc", "status": "completed"})
    assert json.loads(folder.read_text("metrics.json"))["status"] == "completed"


def test_extra_files_are_written_before_the_record_the_first_time_and_after(location, monkeypatch):
    # A process killed between two writes must never leave a record whose resumable state is missing:
    # the state is part of the first publication, and later written before metrics.json.
    folder = location / "trials" / "abc"
    trial = TrialFolder(folder)
    trial.publish({"spec": 1}, {"seed": 0}, {"epochs_run": 1}, extra={".resume_state.pt": b"epoch 1"})
    assert folder.read_bytes(".resume_state.pt") == b"epoch 1"
    written = []
    original = type(folder).write_bytes
    monkeypatch.setattr(type(folder), "write_bytes",
                        lambda self, name, content: (written.append(name), original(self, name, content))[1])
    trial.publish({"spec": 1}, {"seed": 0}, {"epochs_run": 2}, extra={".resume_state.pt": b"epoch 2"})
    assert written.index(".resume_state.pt") < written.index("metrics.json")
    assert folder.read_bytes(".resume_state.pt") == b"epoch 2" and folder.read_json("metrics.json")["epochs_run"] == 2


def test_download_copies_files_and_skips(location, tmp_path):
    run = location / "run"
    run.write_text("trials.csv", "trial_id\n")
    run.write_text("tune/experiment_state.json", "{}")
    copy = run.download(tmp_path / "copy", skip=lambda relative: relative.startswith("tune/"))
    assert sorted(p.name for p in copy.rglob("*")) == ["trials.csv"]


def test_bad_uris_are_value_errors_naming_the_option(s3_server):
    assert is_uri("s3://b/p") and not is_uri("results") and not is_uri("file:///tmp/x")
    with pytest.raises(ValueError, match=r"^--storage: cannot use 'nosuch://bucket/x'"):
        Location.from_uri("nosuch://bucket/x")
    with pytest.raises(ValueError, match=r"^--storage: give a folder"):
        Location.from_uri("")


def test_search_storage_flags_are_checked_before_anything_runs(tmp_path, monkeypatch):
    from nas.search.run import check_study_storage, driver_folder, run, study_storage_url

    with pytest.raises(ValueError, match=r"^--study-storage: expected a database URL"):
        check_study_storage("optuna.db")
    assert check_study_storage("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    with pytest.raises(ValueError, match=r"^--storage: give either --storage or --results-dir"):
        run(None, storage="s3://b/p", results_dir=tmp_path / "other")
    local = Location.from_uri(tmp_path / "results") / "run"
    assert study_storage_url(local, None) == f"sqlite:///{tmp_path / 'results' / 'run' / 'optuna.db'}"
    monkeypatch.setenv("NAS_DRIVER_DIR", str(tmp_path / "driver"))
    remote = Location.from_uri("s3://bucket/prefix?endpoint_override=127.0.0.1:1&scheme=http") / "run"
    assert driver_folder(remote) == tmp_path / "driver" / "runs" / "s3" / "bucket" / "prefix" / "run"
    assert study_storage_url(remote, "postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_local_storage_path_is_checked_under_the_flag_given(tmp_path):
    from nas.search.run import run

    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"^--storage: .*file"):
        run(None, storage=str(tmp_path / "file"))
    with pytest.raises(ValueError, match=r"^--results-dir: .*file"):
        run(None, results_dir=str(tmp_path / "file"))


def test_a_planted_pickle_as_resume_state_in_the_bucket_is_refused_without_running(s3_uri, tmp_path):
    from hostile import plant_torch_pickle
    from nas.search.run import check_resume_states

    marker = tmp_path / "ran"
    run = Location.from_uri(s3_uri("runs")) / "planted"
    run.upload(plant_torch_pickle(tmp_path / "state.pt", marker), "trials/t1/.resume_state.pt")
    with pytest.raises(ValueError, match=r"^--resume: t1/\.resume_state\.pt: refused: .*Unsupported global"):
        check_resume_states(run)
    assert not marker.exists()


def test_a_driver_without_the_study_of_an_object_store_run_starts_from_its_copy(s3_uri, tmp_path, monkeypatch):
    import optuna

    from nas.search.run import driver_folder, fetch_study_copy

    monkeypatch.setenv("NAS_DRIVER_DIR", str(tmp_path / "driver"))
    run = Location.from_uri(s3_uri("runs")) / "moved"
    optuna.create_study(study_name="moved", storage=f"sqlite:///{tmp_path / 'made.db'}").enqueue_trial({"x": 1})
    run.upload(tmp_path / "made.db", "optuna.db")
    assert fetch_study_copy(run)
    local = driver_folder(run) / "optuna.db"
    assert len(optuna.load_study(study_name="moved", storage=f"sqlite:///{local}").trials) == 1
    assert not fetch_study_copy(run)  # a study already on the driver is never replaced


def test_a_missing_bucket_is_refused_before_anything_runs(s3_server, tmp_path):
    from nas.search.run import run

    uri = f"s3://no-such-bucket/runs?endpoint_override={s3_server}&scheme=http&region=us-east-1"
    with pytest.raises(ValueError, match=r"^--storage: bucket 'no-such-bucket' of s3://no-such-bucket/runs/quick "
                                         r"does not exist; create it first$"):
        run(None, storage=uri)


def _retry_limit(location):
    """The retry time limit of a GCS file system, as pyarrow pickles it (no network needed)."""
    return location.filesystem.__reduce__()[1][0]["retry_time_limit"]


def test_gcs_locations_have_a_bounded_retry_time_also_in_the_workers():
    """Issue 22, defect 5: a nonexistent gs:// bucket hung for 15 minutes (the client's default retry loop)."""
    import datetime

    from nas.storage import GCS_RETRY_LIMIT_SECONDS, Location

    location = Location.from_uri("gs://some-bucket/runs?endpoint_override=localhost:1&scheme=http")
    assert _retry_limit(location) == datetime.timedelta(seconds=GCS_RETRY_LIMIT_SECONDS)
    worker = Location.from_uri((location / "run1").uri)  # a worker rebuilds its file system from the URI
    assert _retry_limit(worker) == datetime.timedelta(seconds=GCS_RETRY_LIMIT_SECONDS)
    assert worker.path == "some-bucket/runs/run1" and worker.display() == "gs://some-bucket/runs/run1"


def test_a_gcs_uri_may_give_its_own_bounded_retry_time():
    import datetime

    from nas.storage import Location

    assert _retry_limit(Location.from_uri("gs://b/p?retry_limit_seconds=60")) == datetime.timedelta(seconds=60)
    for bad in ("0", "100000", "forever"):
        with pytest.raises(ValueError, match=r"--storage: retry_limit_seconds must be a number of seconds in 1 \.\. "):
            Location.from_uri(f"gs://b/p?retry_limit_seconds={bad}")
