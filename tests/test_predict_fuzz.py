"""Property-based fuzzing of ``xpz predict`` end to end (:func:`xpz.inference.predict_files`).

Valid input files are corrupted at random (a cell made NaN, inf, huge, empty or
text; an array element changed, dropped or added; a line dropped or repeated;
truncation at a random byte; a Parquet column retyped or dropped), then
predicted with the default (``xpz``) and the paper model.  Each run must either
write every input row (same ``source_id`` values, NaN estimates exactly where
``Flag.NO_ESTIMATE`` is set) or raise one :class:`xpz.errors.InputError` of one
line naming the file: never another exception, a hang (a 60 s alarm) or a lost row.

The example budget comes from the Hypothesis profiles of
``tests/hypothesis_profiles.py``: ``ci`` (25 examples per test, derandomised, the
default for ``make test``) or, one flag away, ``long``::

    HYPOTHESIS_PROFILE=long pytest tests/test_predict_fuzz.py
"""

from __future__ import annotations

import contextlib
import csv
import io
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xpz.errors import InputError
from xpz.inference import predict_files
from xpz.spectra import Flag, Spectra


def _sibling(name: str):
    """The test module ``tests/<name>.py`` (pytest runs with --import-mode=importlib)."""
    import importlib.util
    import sys

    key = f"xpz_tests_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


PROFILE = _sibling("hypothesis_profiles").PROFILE
_robust = _sibling("test_predict_robust")
ARCHIVE, N_PIXELS, tiny_model = _robust.ARCHIVE, _robust.N_PIXELS, _robust.tiny_model

#: What a corrupted cell becomes.
BAD_CELLS = ["nan", "NaN", "inf", "-inf", "1e300", "-1e30", "1e30", "", "abc", "0", "-5", "1e-300"]
XP_FILES = ["XP_CONTINUOUS_RAW.csv", "XP_CONTINUOUS_RAW_with_missing_BP.csv"]
HANG_SECONDS = 60


@pytest.fixture(scope="module", params=["xpz", "paper"])
def model(request, tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    flux = rng.lognormal(3.0, 0.5, (40, N_PIXELS)).astype(np.float32)
    return tiny_model(tmp_path_factory.mktemp(request.param) / "model", request.param, flux)


@pytest.fixture(scope="module")
def sampled(tmp_path_factory) -> dict[str, bytes]:
    """A sampled table of 7 spectra as CSV and Parquet bytes (written by write_spectra)."""
    from xpz.io.tables import write_spectra

    rng = np.random.default_rng(4)
    flux = rng.lognormal(3.0, 0.5, (7, N_PIXELS)).astype(np.float32)
    spectra = Spectra(flux=flux, source_id=np.arange(7) + 4 * 10**18, z=rng.uniform(0, 0.5, 7))
    folder = tmp_path_factory.mktemp("sampled")
    return {
        suffix: write_spectra(spectra, folder / f"s{suffix}").read_bytes()
        for suffix in (".csv", ".parquet")
    }


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS):
    def alarm(signum, frame):
        raise TimeoutError(f"xpz predict took more than {seconds} s (a hang?)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def records(text: str) -> list[list[str]]:
    """The CSV records of ``text`` after its header (what a reader should keep as rows)."""
    rows = list(csv.reader(io.StringIO(text)))
    return [row for row in rows[1:] if row]


def check_predict(model: Path, path: Path, expected_ids: list[int | None] | None) -> None:
    """Predict ``path``: every row out with consistent flags, or one clean InputError.

    ``expected_ids`` are the rows' ids where known (None: any id); None: unknown rows.
    """
    from astropy.table import Table

    out = path.with_name("catalogue.parquet")
    out.unlink(missing_ok=True)
    try:
        with no_hang():
            predict_files(model, [path], out, chunk_rows=3)
    except InputError as err:
        message = str(err)
        assert str(path) in message and "\n" not in message, message
        assert not out.exists()
        return
    got = Table.read(out)
    z = np.asarray(got["z_pred"], float)
    no_estimate = (np.asarray(got["flag"]) & int(Flag.NO_ESTIMATE)) != 0
    np.testing.assert_array_equal(np.isnan(z), no_estimate)
    if expected_ids is not None:
        assert len(got) == len(expected_ids)
        for want, have in zip(expected_ids, np.asarray(got["source_id"]).tolist(), strict=True):
            assert want is None or want == have


def _as_id(cell: str) -> int | None:
    return int(cell) if cell.strip().lstrip("-").isdigit() else None


def _mutate_array(cell: str, data: st.DataObject) -> str:
    """An array cell ``(a, b, ...)`` or ``[a, b, ...]`` with one element changed, dropped or added."""
    open_, close = cell[0], cell[-1]
    items = [v.strip() for v in cell[1:-1].split(",")]
    i = data.draw(st.integers(0, len(items) - 1))
    how = data.draw(st.sampled_from(["change", "drop", "add"]))
    if how == "change":
        items[i] = data.draw(st.sampled_from(BAD_CELLS))
    elif how == "drop":
        del items[i]
    else:
        items.insert(i, "1.0")
    return open_ + ", ".join(items) + close


def mutate_csv(text: str, data: st.DataObject) -> tuple[str, list[int | None] | None]:
    """A corrupted copy of CSV ``text`` and the ids of its rows (None where unknown)."""
    how = data.draw(st.sampled_from(["cell", "truncate", "drop_line", "repeat_line", "row_length"]))
    if how == "truncate":
        cut = text[: data.draw(st.integers(0, len(text)))]
        return cut, None
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], [r for r in rows[1:] if r]
    id_col = header.index("source_id")
    r = data.draw(st.integers(0, len(body) - 1))
    if how == "cell":
        c = data.draw(st.integers(0, len(header) - 1))
        cell = body[r][c]
        if len(cell) > 2 and cell[0] in "([" and data.draw(st.booleans()):
            body[r][c] = _mutate_array(cell, data)
        else:
            body[r][c] = data.draw(st.sampled_from(BAD_CELLS))
    elif how == "drop_line":
        del body[r]
    elif how == "repeat_line":
        body.insert(r, list(body[r]))
    else:
        body[r] = body[r][:-1] if data.draw(st.booleans()) else [*body[r], "1"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *body])
    return buffer.getvalue(), [_as_id(row[id_col]) if len(row) > id_col else None for row in body]


@settings(PROFILE)
@given(data=st.data())
def test_corrupted_sampled_csv(model, sampled, tmp_path, data):
    text, ids = mutate_csv(sampled[".csv"].decode(), data)
    path = tmp_path / "in.csv"
    path.write_text(text)
    check_predict(model, path, ids if ids is not None else _truncated_ids(text))


@settings(PROFILE)
@given(name=st.sampled_from(XP_FILES), data=st.data())
def test_corrupted_real_xp_csv(model, tmp_path, name, data):
    text, ids = mutate_csv((ARCHIVE / name).read_text(), data)
    path = tmp_path / name
    path.write_text(text)
    check_predict(model, path, ids if ids is not None else _truncated_ids(text))


def _truncated_ids(text: str) -> list[int | None] | None:
    """Rows of a truncated CSV: every record (ids None); None if the header itself is cut."""
    if "\n" not in text:
        return None
    return [None] * len(records(text))


@settings(PROFILE)
@given(data=st.data())
def test_corrupted_sampled_parquet(model, sampled, tmp_path, data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    content = sampled[".parquet"]
    path = tmp_path / "in.parquet"
    how = data.draw(st.sampled_from(["cell", "retype", "drop_column", "truncate"]))
    if how == "truncate":
        path.write_bytes(content[: data.draw(st.integers(0, len(content) - 1))])
        check_predict(model, path, None)
        return
    table = pq.read_table(io.BytesIO(content))
    ids: list[int | None] = table["source_id"].to_pylist()
    name = data.draw(st.sampled_from(table.column_names))
    i = table.column_names.index(name)
    values = table[name].to_pylist()
    if how == "cell":
        r = data.draw(st.integers(0, len(values) - 1))
        if name == "source_id":  # a missing id (an int64 column holds no NaN)
            values[r], ids[r] = None, None
            column = pa.array(values, type=pa.int64())
        else:
            bad = [None, float("nan"), float("inf"), 1e300, -1e30]
            values[r] = data.draw(st.sampled_from(bad))
            column = pa.array(values, type=pa.float64())
        table = table.set_column(i, name, column)
    elif how == "retype":
        text = [str(v) for v in values]
        text[data.draw(st.integers(0, len(text) - 1))] = data.draw(st.sampled_from(BAD_CELLS))
        table = table.set_column(i, name, pa.array(text))
    else:
        table = table.remove_column(i)
    if name == "source_id" and how != "cell":  # retyped or dropped ids: any id (0..N-1 made up)
        ids = [None] * len(ids)
    pq.write_table(table, path)
    check_predict(model, path, ids)


@settings(PROFILE)
@given(source=st.sampled_from(["sampled", *XP_FILES]), data=st.data())
def test_corrupted_input_through_the_cli(model, sampled, tmp_path, capsys, source, data):
    """``xpz predict`` itself: exit 0 with every row, or exit 2 with one line naming the file."""
    from astropy.table import Table

    from xpz.cli import main

    original = sampled[".csv"].decode() if source == "sampled" else (ARCHIVE / source).read_text()
    text, ids = mutate_csv(original, data)
    path, out = tmp_path / "in.csv", tmp_path / "cat.ecsv"
    path.write_text(text)
    out.unlink(missing_ok=True)
    capsys.readouterr()
    with no_hang():
        code = main(["predict", str(model), str(path), "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    if code == 2:
        assert err.startswith(f"xpz predict: error: {path}") and "\n" not in err, err
        assert not out.exists()
        return
    assert code == 0, err
    expected = ids if ids is not None else _truncated_ids(text)
    if expected is not None:
        assert len(Table.read(out)) == len(expected)
