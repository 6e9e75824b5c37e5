"""atomic_path: all or nothing under the final name, and errors that name the output."""

from __future__ import annotations

import pytest

from xpz.io.atomic import atomic_path


def test_success_renames_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".partial.csv")
        tmp.write_text("a,b\n")
    assert target.read_text() == "a,b\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("bad", ["", "blocker/out.csv"])
def test_an_output_that_cannot_be_created_names_the_output(tmp_path, bad):
    (tmp_path / "blocker").write_text("a file, not a directory")
    path = str(tmp_path / bad) if bad else ""
    with pytest.raises(OSError) as info, atomic_path(path):
        pass
    assert info.value.filename == path and ".partial" not in str(info.value)
