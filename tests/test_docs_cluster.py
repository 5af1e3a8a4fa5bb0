"""docs/cluster.md: every nas command in it is one the CLI accepts (flags and values), every ray command uses
flags Ray's CLI has, and the storage URIs it shows are ones nas.storage reads. The commands themselves run
in tests/test_search_storage.py (S3 storage, leaderboard, export, nas.load, resume, nas evaluate of a run in
the bucket), tests/test_cluster.py
(ray start --address, --address, --gpus-per-trial, the multi-node guard) and tests/test_search_run.py
(two nodes with --storage s3://)."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cluster.md"


def commands(program: str) -> list[list[str]]:
    text = DOC.read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith(program + " "):
                out.append(shlex.split(line))
    return out


def test_every_nas_command_parses():
    from nas.cli import build_parser

    found = commands("nas")
    assert {c[1] for c in found} == {"search", "leaderboard", "export", "evaluate"}
    parser = build_parser()
    for command in found:
        args = parser.parse_args(command[1:])  # a flag nas lacks exits with status 2
        if command[1] == "search":
            assert args.storage.startswith("s3://") and args.address == "auto"
        if command[1] == "evaluate":  # the run in the bucket: by name under --storage, or by its URI
            assert (args.storage or args.run).startswith("s3://") and args.address == "auto"


def test_the_search_command_of_the_doc_is_the_one_the_issue_names():
    (first, *_) = [c for c in commands("nas") if c[1] == "search"]
    assert first[first.index("--gpus-per-trial") + 1] == "0.25"
    assert "--resume" in [c for c in commands("nas") if c[1] == "search"][1]


def test_ray_commands_use_flags_ray_has():
    ray = str(Path(sys.executable).with_name("ray"))
    found = commands("ray")
    assert [c[1] for c in found] == ["start", "start", "status"]
    help_text = subprocess.run([ray, "start", "--help"], capture_output=True, text=True, timeout=120).stdout
    flags = {word for command in found if command[1] == "start" for word in command[2:] if word.startswith("--")}
    assert flags == {"--head", "--port", "--address"}
    for flag in flags:
        assert re.search(rf"^\s*{flag}\b", help_text, flags=re.MULTILINE), flag


def test_the_s3_compatible_server_uri_of_the_doc_is_read_by_nas_storage(monkeypatch):
    # (s3://my-bucket/... would ask AWS for the bucket's region: no network here; the tests use such URIs
    # with the endpoint of a local moto server)
    from nas.storage import Location

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert "?endpoint_override=HOST:PORT&scheme=http" in DOC.read_text()
    location = Location.from_uri("s3://bucket/prefix?endpoint_override=localhost:9000&scheme=http") / "cifar"
    assert not location.is_local and location.display() == "s3://bucket/prefix/cifar"


def test_the_cost_benchmark_of_the_doc_runs_and_counts_flops(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import cifar10_trial_cost
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert "benchmarks/cifar10_trial_cost.py" in DOC.read_text()
    cifar10_trial_cost.main(["--batches", "1", "--batch-size", "2", "--steps", "3", "--schemes", "euler,rk4",
                             "--threads", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cifar10.yaml: 160 epochs x 50,000 images, batch 2, widths [16, 32, 64]")
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {"euler", "rk4"} and rows["euler"][1] == "20"
    euler_flops, rk4_flops = (float(rows[s][3]) for s in ("euler", "rk4"))
    assert 3 < rk4_flops / euler_flops < 4  # four residual evaluations per step, one stem and head
    # GPU hours = 3 x forward FLOPs x 50,000 x 160 / (8.1e12 x 0.3) / 3600
    assert float(rows["euler"][-1]) == pytest.approx(3 * euler_flops * 1e6 * 50_000 * 160 / 2.43e12 / 3600, abs=0.01)
