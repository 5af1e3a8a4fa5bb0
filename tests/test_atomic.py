"""nas.atomic: a reader sees the old file or the complete new one; an interrupted writer leaves nothing."""
from __future__ import annotations

import json
import os

import pytest

from nas.atomic import atomic_directory, atomic_open, atomic_path, staged_files, write_bytes, write_json, write_text


def test_write_text_bytes_json_replace_the_target(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    write_text(target, "old")
    write_text(target, "new")
    assert target.read_text() == "new"
    write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    write_json(tmp_path / "v.json", {"a": [1, 2]})
    assert json.loads((tmp_path / "v.json").read_text()) == {"a": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "sub", "v.json"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_json_rejects_nan_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "v.json"
    write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        write_json(target, {"a": float("nan")})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["v.json"]


def test_interrupted_write_keeps_the_old_content_and_removes_the_temporary(tmp_path):
    target = tmp_path / "table.csv"
    write_text(target, "complete\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as handle:
            handle.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_path_keeps_the_suffix_for_format_sniffing_writers(tmp_path):
    with atomic_path(tmp_path / "plot.png") as temporary:
        assert temporary.suffix == ".png" and temporary.parent == tmp_path
        assert temporary != tmp_path / "plot.png"
        temporary.write_bytes(b"png")
    assert (tmp_path / "plot.png").read_bytes() == b"png"


def test_atomic_open_refuses_read_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(tmp_path / "x", "r"):
            pass


def test_directory_appears_complete_or_not_at_all(tmp_path):
    target = tmp_path / "export"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "a.txt").write_text("a")
            assert not target.exists()  # nothing visible while it is being written
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("a")
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_directory_replace_swaps_and_refuses_without_it(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(FileExistsError):
        with atomic_directory(target):
            pass
    with atomic_directory(target, replace=True) as staging:
        (staging / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_replace_is_a_rename_of_a_complete_file(tmp_path):
    # The published file is the temporary itself (same inode): no copy that a reader could see half-done.
    with atomic_path(tmp_path / "f.txt") as temporary:
        temporary.write_text("x")
        inode = os.stat(temporary).st_ino
    assert os.stat(tmp_path / "f.txt").st_ino == inode


def test_staged_files_appear_together_or_not_at_all(tmp_path):
    target = tmp_path / "a" / "plots"
    with pytest.raises(RuntimeError):
        with staged_files(target) as staging:
            (staging / "one.png").write_text("1")
            raise RuntimeError("the second plot failed")
    assert list(tmp_path.iterdir()) == []  # no target, no parents, no staging left
    with staged_files(target) as staging:
        (staging / "one.png").write_text("1")
        (staging / "two.png").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["one.png", "two.png"]
    (target / "keep.txt").write_text("mine")
    with pytest.raises(RuntimeError):
        with staged_files(target) as staging:
            (staging / "one.png").write_text("new")
            raise RuntimeError
    assert (target / "one.png").read_text() == "1" and sorted(p.name for p in target.iterdir()) == [
        "keep.txt", "one.png", "two.png"]
    with staged_files(target) as staging:
        (staging / "one.png").write_text("new")
    assert (target / "one.png").read_text() == "new" and (target / "keep.txt").read_text() == "mine"
