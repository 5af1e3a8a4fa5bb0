"""Shared test fixtures."""
from __future__ import annotations

import os
import pickle
import tempfile

import numpy as np
import pytest

# mnist1d imports matplotlib.pyplot: never open a display in tests.
os.environ.setdefault("MPLBACKEND", "Agg")
# The resume signing key (nas.driver.signatures) of the test session, never the user's own; inherited by the
# drivers the tests start as subprocesses.
os.environ.setdefault("NAS_STATE_DIR", tempfile.mkdtemp(prefix="nas-test-state-"))


def write_cifar_folder(root, name: str = "cifar10", per_file: int = 6, num_test: int = 8, seed: int = 0):
    """A tiny folder in the layout of the python version of CIFAR-10/100 (pickled dicts of uint8 rows).

    Returns (root, train_labels, test_labels). Checksums differ from the real files on purpose.
    """
    rng = np.random.default_rng(seed)
    num_classes = 10 if name == "cifar10" else 100
    label_key = "labels" if name == "cifar10" else "fine_labels"
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
        test_file, meta_file, meta = "test_batch", "batches.meta", {"label_names": [f"c{i}" for i in range(10)]}
    else:
        folder = root / "cifar-100-python"
        train_files = ["train"]
        test_file, meta_file = "test", "meta"
        meta = {"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": [f"s{i}" for i in range(20)]}
    folder.mkdir(parents=True)

    def dump(file, count):
        labels = rng.integers(0, num_classes, count).tolist()
        entry = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), label_key: labels}
        with open(folder / file, "wb") as handle:
            pickle.dump(entry, handle)
        return labels

    train_labels = [label for file in train_files for label in dump(file, per_file * (5 if name == "cifar100" else 1))]
    test_labels = dump(test_file, num_test)
    with open(folder / meta_file, "wb") as handle:
        pickle.dump(meta, handle)
    return root, train_labels, test_labels


@pytest.fixture
def single_thread():
    """One torch thread: small models train faster and steadier on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_thread():
    """single_thread for a whole module (module-scoped fixtures that train networks request it)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cifar_folder(tmp_path):
    """Factory: ``cifar_folder(name)`` writes a tiny synthetic CIFAR folder under tmp_path."""
    def make(name="cifar10", **kwargs):
        return write_cifar_folder(tmp_path / name, name, **kwargs)
    return make


@pytest.fixture(scope="session")
def small_mnist1d():
    """MNIST-1D with a 300-sample train+val pool (240 / 60) and 75 test samples; generated once."""
    from nas.data import load_dataset

    return load_dataset("mnist1d", num_samples=300, seed=0)


@pytest.fixture(scope="session")
def ray_session():
    """One embedded Ray for every in-process search test (a cold ``ray.init`` costs 5-7 s; STACK.md)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=100 * 1024**2, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3 server on a free localhost port (one per test session), with dummy credentials
    in this process's environment (inherited by drivers and Ray nodes the tests start). Yields HOST:PORT."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    server = Path(sys.executable).with_name("moto_server")
    assert server.exists(), "moto_server is missing: install the test dependencies (pip install -e '.[dev]')"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    names = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": S3_REGION,
             "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_uri(s3_server):
    """Factory: ``s3_uri(prefix)`` is ``s3://<a new bucket>/<prefix>?endpoint_override=...`` on the moto server."""
    import uuid

    import pyarrow.fs as pafs

    bucket = f"nas-{uuid.uuid4().hex[:12]}"
    pafs.S3FileSystem(endpoint_override=s3_server, scheme="http", region=S3_REGION,
                      allow_bucket_creation=True).create_dir(bucket)

    def make(prefix: str = "runs") -> str:
        return f"s3://{bucket}/{prefix}?endpoint_override={s3_server}&scheme=http&region={S3_REGION}"
    return make
