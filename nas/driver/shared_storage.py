"""Multi-node guard: a run in a local folder needs every Ray node to see that folder.

Ray Tune (≥ 2.7) no longer copies trial folders to the head node: on a cluster, every trial writes its
records (``nas.search.records``) and resumable state where the run's storage is. When the storage is a
local path and the cluster has more than one node, the driver writes a random token file beside the run
folder and a tiny task pinned to each node (``NodeAffinitySchedulingStrategy``, hard affinity) reads it back;
a node that reads nothing or another token would write to its own disk, so the search is refused before it
starts and the user is told to use a shared folder or an object-store URI.
"""
from __future__ import annotations

import secrets
from pathlib import Path

TOKEN_PREFIX = ".nas-shared-check-"
CHECK_TIMEOUT_S = 120


def _read_token(path: str):
    """Runs on one node: the token it sees at ``path`` (None when the file is not there) and its host name."""
    import socket

    try:
        text = Path(path).read_text()
    except OSError:
        text = None
    return text, socket.gethostname()


def check_shared_storage(run_dir, address) -> None:
    """``ValueError`` when ``run_dir`` (a ``nas.storage.Location``) is local and some alive node of the Ray
    cluster cannot see it (see the module docstring). Object stores and single-node clusters pass."""
    if not run_dir.is_local:
        return
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    if len(nodes) <= 1:
        return
    folder = run_dir.local_path
    while not folder.exists():  # the run folder may not exist yet: probe its nearest existing ancestor
        folder = folder.parent
    token = secrets.token_hex(16)
    path = folder / f"{TOKEN_PREFIX}{token}"
    path.write_text(token)
    try:
        task = ray.remote(num_cpus=0, max_retries=0)(_read_token)
        futures = {node["NodeID"]: task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            node_id=node["NodeID"], soft=False)).remote(str(path)) for node in nodes}
        seen = dict(zip(futures, ray.get(list(futures.values()), timeout=CHECK_TIMEOUT_S)))
    finally:
        path.unlink(missing_ok=True)
    blind = [f"{node_id[:12]} ({host})" for node_id, (text, host) in seen.items() if text != token]
    if blind:
        raise ValueError(f"--storage: {run_dir.local_path} is not shared with every Ray node (node(s) "
                         f"{', '.join(blind)} cannot see it); use a folder all nodes mount at the same path "
                         "or an object-store URI such as s3://bucket/prefix")


__all__ = ["check_shared_storage"]
