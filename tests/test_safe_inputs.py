"""The readers and rules behind the hardening: nas.safe_yaml, nas.safe_load, nas.paths, nas.messages."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from nas import safe_load, safe_yaml
from nas.messages import QUOTE_LIMIT, one_line, quote
from nas.paths import MAX_RUN_NAME, check_output_file, check_output_folder, check_run_name, contained

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "search_spaces_bad"


# ------------------------------------------------------------------------------------------- YAML
@pytest.mark.parametrize("path", sorted((ROOT / "search_spaces").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_spaces_read_as_with_safe_load(path):
    assert safe_yaml.load_file(path) == yaml.safe_load(path.read_text())


@pytest.mark.parametrize("name", ["alias_bomb_description.yaml", "alias_bomb_scheme.yaml"])
def test_billion_laughs_is_refused_while_composing(name):
    text = (BAD / name).read_text()
    started = time.perf_counter()
    with pytest.raises(ValueError, match="aliases expand the document to more than 10,000 nodes"):
        safe_yaml.loads(text, name)
    assert time.perf_counter() - started < 2.0
    # the same document under plain safe_load builds shared references that a walk would expand 9**9 times
    assert len(yaml.safe_load(text)[name.removeprefix("alias_bomb_").removesuffix(".yaml")][-1]) == 9


@pytest.mark.parametrize("text, message", [
    ("a: 1\na: 2\n", "line 2, column 1: duplicate key 'a' (first at line 1)"),
    ("a:\n  b: {c: 1, c: 2}\n", "duplicate key 'c'"),
    ("- {x: 1}\n- [{y: 1, y: 2}]\n", "duplicate key 'y'"),
    ("1: a\ntrue: b\n", "duplicate key True"),  # equal keys once built (True == 1)
    ("a: &x [*x]\n", "refers to a value that contains it (recursive)"),
    ("a: &x 1\nb: [" + ", ".join(["*x"] * (safe_yaml.MAX_ALIASES + 1)) + "]\n", "more than 100 aliases"),
    ("a: " + "[" * 3000 + "]" * 3000 + "\n", "values nested too deeply"),
    ("a: !!python/object/apply:os.system [ls]\n", "could not determine a constructor"),
])
def test_yaml_refusals_are_one_line(text, message):
    with pytest.raises(ValueError) as error:
        safe_yaml.loads(text, "x.yaml")
    assert message in str(error.value) and str(error.value).startswith("x.yaml: ")
    assert "\n" not in str(error.value)


def test_yaml_keeps_merge_keys_and_small_aliases():
    text = "base: &b {lr: 0.1, epochs: 2}\ntrain:\n  <<: *b\n  epochs: 3\nalso: *b\n"
    assert safe_yaml.loads(text, "x.yaml") == {"base": {"lr": 0.1, "epochs": 2}, "train": {"lr": 0.1, "epochs": 3},
                                               "also": {"lr": 0.1, "epochs": 2}}


def test_yaml_file_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" + "#" * 100)
    monkeypatch.setattr(safe_yaml, "MAX_BYTES", 50)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file over the limit"))
    with pytest.raises(ValueError, match="big.yaml: 105 bytes, larger than the limit of 50"):
        safe_yaml.load_file(path)


# ------------------------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("text, message", [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"a": {"b": 1, "b": 1}}', "duplicate key 'b'"),
    ("[1, 2]", "expected a JSON object, got list"),
    ("{oops", "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
    ("[" * 5000, "values nested too deeply"),
])
def test_json_refusals(tmp_path, text, message):
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        safe_load.read_json(path, "f.json")
    assert str(error.value) == f"f.json: {message}" or message in str(error.value)


def test_json_missing_and_oversized(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="f.json: missing"):
        safe_load.read_json(tmp_path / "nope.json", "f.json")
    (tmp_path / "big.json").write_text("{}" + " " * 100)
    monkeypatch.setattr(safe_load, "MAX_JSON_BYTES", 10)
    with pytest.raises(ValueError, match="102 bytes, larger than the limit of 10"):
        safe_load.read_json(tmp_path / "big.json")


# ------------------------------------------------------------------------------------------ paths
@pytest.mark.parametrize("name", ["a", "run-1.2_x", "R2D2", "9lives", "n" * MAX_RUN_NAME])
def test_valid_run_names(name):
    assert check_run_name(name) == name


@pytest.mark.parametrize("name, message", [
    ("", "got an empty name"), ("-x", "got '-x'"), (".hidden", "got '.hidden'"), ("..", "got '..'"),
    ("_x", "got '_x'"), ("a b", "got 'a b'"), ("a/b", "got 'a/b'"), ("caf\u00e9", "got 'café'"),
    ("n" * (MAX_RUN_NAME + 1), "got 101 characters"), (None, "got an empty name"),
])
def test_invalid_run_names(name, message):
    with pytest.raises(ValueError) as error:
        check_run_name(name)
    assert str(error.value).startswith("--name: a run name is 1-100 ASCII letters, digits")
    assert message in str(error.value)


def test_contained_paths(tmp_path):
    base = tmp_path / "run"
    (base / "trials" / "t1").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (base / "trials" / "inside").symlink_to(base / "trials" / "t1")
    (base / "trials" / "out").symlink_to(tmp_path / "elsewhere")
    assert contained(base, "trials/t1", "x") == (base / "trials" / "t1").resolve()
    assert contained(base, "trials/inside", "x") == (base / "trials" / "t1").resolve()
    assert contained(base, "trials/../trials/t1", "x") == (base / "trials" / "t1").resolve()
    for bad, message in ((str(tmp_path / "elsewhere"), "must be a path relative to"), ("../elsewhere", "leads outside"),
                         ("trials/out", "leads outside"), ("", "must be a path relative to")):
        with pytest.raises(ValueError, match=message):
            contained(base, bad, "trial_dir")


def test_output_paths(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_file(tmp_path / "new.json", "--output") == tmp_path / "new.json"
    for path, message in ((tmp_path, "is a folder"), (tmp_path / "missing" / "x.json", "does not exist"),
                          (tmp_path / "file" / "x.json", "is not a folder")):
        with pytest.raises(ValueError, match=message):
            check_output_file(path, "--output")
    assert check_output_folder(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_output_folder(tmp_path / "file", "--out")
    with pytest.raises(ValueError, match="is a file, so"):
        check_output_folder(tmp_path / "file" / "sub", "--out")
    with pytest.raises(ValueError, match="already exists"):
        check_output_folder(tmp_path, "--out", may_exist=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # checks never create anything


# --------------------------------------------------------------------------------------- messages
def test_quote_is_bounded_and_one_line_joins():
    assert quote("abc") == "'abc'" and quote(3) == "3"
    for value in ("x" * 10**6, list(range(10**6)), {str(i): [i] * 1000 for i in range(1000)}):
        assert len(quote(value)) <= QUOTE_LIMIT
    assert one_line("first\n  second\n\nthird") == "first second third"


def test_space_errors_quote_values_briefly(tmp_path):
    from nas.search.space import load_space

    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"scheme": {"family": "named", "names": ["x" * 50_000]}}))
    with pytest.raises(ValueError) as error:
        load_space(path)
    assert "scheme.names[0]: must be one of" in str(error.value) and len(str(error.value)) < 600
