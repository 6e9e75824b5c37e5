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


def test_check_output_refuses_what_would_harm_an_input(tmp_path):
    from xpz.errors import InputError
    from xpz.io.atomic import OutputKind, check_output

    data = tmp_path / "s.csv"
    data.write_text("x")
    folder = tmp_path / "gaia"
    folder.mkdir()
    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    cases = [
        ("", OutputKind.FILE, [], "needs a name"),
        (data, OutputKind.FILE, [data], "would replace the input"),
        (tmp_path / "." / "s.csv", OutputKind.FILE, [data], "would replace the input"),
        (folder / "cat.parquet", OutputKind.FILE, [folder], "inside the input folder"),
        (model / "report", OutputKind.DIRECTORY, [model, data], "inside the input folder"),
        (folder, OutputKind.FILE, [data], "is a directory"),
        (data, OutputKind.DIRECTORY, [], "not a directory"),
    ]
    for output, kind, inputs, message in cases:
        with pytest.raises(InputError, match=message):
            check_output(output, kind, inputs)
    assert check_output(tmp_path / "new" / "cat.fits", OutputKind.FILE, [data, folder]).name == (
        "cat.fits"
    )
    assert check_output(tmp_path / "run", OutputKind.DIRECTORY, [data]) == tmp_path / "run"
    assert data.read_text() == "x" and not (tmp_path / "new").exists()
