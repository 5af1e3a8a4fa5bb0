"""Reading a model folder back: ``read_model`` (a trial or export folder, read safely) and ``nas.load``."""
from __future__ import annotations

from pathlib import Path

from ..checks import is_int
from ..messages import one_line, quote
from ..paths import contained
from ..safe_load import read_json, read_weights


def read_model(folder, what: str, *, device="cpu"):
    """``(NetworkSpec, state dict)`` of a model folder (a trial folder or an export), read safely.

    ``spec.json`` and ``weights.safetensors`` must lie inside ``folder``; the JSON and the safetensors are
    read without running code; the spec is checked against the budgets and the weights against the spec
    on the meta device, so nothing is allocated for a bad folder. Every problem is a ``ValueError`` naming
    ``what`` (this is the reader ``nas.load`` and ``nas export`` share).
    """
    from ..network_kinds import check_state_dict, spec_from_dict

    folder = Path(folder)
    spec_path = contained(folder, "spec.json", f"{what}: spec.json")
    data = read_json(spec_path, f"{what}: spec.json")
    try:
        spec = spec_from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{what}: spec.json: {one_line(exc)}") from None
    weights = read_weights(contained(folder, "weights.safetensors", f"{what}: weights.safetensors"),
                           f"{what}: weights.safetensors", device=str(device))
    check_state_dict(spec, weights, what)
    return spec, weights


def load(path, *, device="cpu"):
    """Rebuild the trainable ``nn.Module`` of an export: ``build_network(spec.json)`` + its weights.

    ``path`` is a model folder (holding ``spec.json``) or an ``export_run`` folder, local or a storage URI
    (``s3://bucket/prefix/export``, ``nas.storage``), (its rank-1 model, the
    ``folder`` of ``index.json``, which must lie inside ``path``). Nothing read runs code and a spec beyond
    the budgets is refused before anything is allocated (``read_model``).
    The model is returned in eval mode, like a model meant for inference; call ``.train()`` to train on.
    """
    from ..storage import Location, is_uri

    if is_uri(str(path)):  # an export in an object store: read a local copy of it
        import tempfile

        with tempfile.TemporaryDirectory(prefix="nas-load-") as local:
            try:
                copy = Location.from_uri(str(path), "load").download(Path(local) / "export")
            except OSError as exc:
                raise ValueError(f"load: cannot read {path}: {exc}") from None
            if not copy.is_dir():
                raise ValueError(f"load: {path} is not an export (nothing there)")
            return load(copy, device=device)
    from ..network_kinds import build_network

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"load: {folder} is not a folder")
    if not (folder / "spec.json").exists():
        index_path = folder / "index.json"
        if not index_path.is_file():
            raise ValueError(f"load: {folder} is not an export (no spec.json or index.json)")
        best = min(index_models(read_json(index_path, f"load: {index_path}"), index_path), key=lambda m: m["rank"])
        folder = contained(folder, best["folder"], f"load: {index_path}: models[rank {best['rank']}].folder")
    spec, weights = read_model(folder, f"load: {folder}", device=device)
    model = build_network(spec)
    model.load_state_dict(weights)
    return model.to(device).eval()


def index_models(index: dict, path) -> list[dict]:
    """The ``models`` of an ``index.json``: a non-empty list of objects with an integer rank and a folder."""
    models = index.get("models")
    if not isinstance(models, list) or not models:
        raise ValueError(f"load: {path} lists no model (expected a non-empty list 'models')")
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            raise ValueError(f"load: {path}: models[{i}] is not an object")
        rank, folder = model.get("rank"), model.get("folder")
        if not is_int(rank):
            raise ValueError(f"load: {path}: models[{i}] has no integer 'rank' (got {quote(rank)})")
        if not isinstance(folder, str) or not folder:
            raise ValueError(f"load: {path}: models[{i}] has no 'folder' (got {quote(folder)})")
    return models


__all__ = ["read_model", "load", "index_models"]
