"""Fuzz the readers of both kinds of input with corrupted copies of valid files.

The valid files are sampled spectrum tables written by
:func:`xpz.io.tables.write_spectra` (CSV, ECSV, Parquet, FITS, VOTable) and the
real Gaia DR3 XP_CONTINUOUS files of ``tests/data/gaia_archive`` (CSV, ECSV,
FITS, BINARY2 VOTable).  Hypothesis corrupts a copy -- a number of the text
replaced by NaN, inf, a huge value, nothing, text, latin-1 bytes or an array
of another length; a BOM; CRLF line ends; truncation at any byte -- and
:func:`xpz.io.read.read_input` and :func:`~xpz.io.read.iter_input` must then
either raise an :class:`~xpz.errors.InputError` naming the file, or return
every row of the original, once and in order (NaN or inf fluxes allowed and
flagged; a truncated file may lose its last rows, and the values of the row
it was cut in, and nothing else).  Any other exception, or a hang (the
``timeout`` marks), fails the test.

The example budget is a hypothesis profile of ``tests/hypothesis_profiles.py``:
``ci`` by default (25 fixed examples per test, reproducible), ``long`` for a
real search::

    HYPOTHESIS_PROFILE=long pytest tests/io/test_fuzz_readers.py
    pytest tests/io/test_fuzz_readers.py --hypothesis-profile=long
"""

from __future__ import annotations

import enum
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tests.hypothesis_profiles  # noqa: F401  (registers and loads the profiles)
from hypothesis import given
from hypothesis import strategies as st

from xpz.errors import InputError
from xpz.io.formats import TableFormat
from xpz.io.read import iter_input, read_input
from xpz.io.tables import write_spectra
from xpz.spectra import Flag, Spectra, concatenate

ARCHIVE = Path(__file__).parents[1] / "data" / "gaia_archive"
TEXT_FORMATS = (TableFormat.CSV, TableFormat.ECSV, TableFormat.VOTABLE)
SAMPLED_FORMATS = (
    TableFormat.CSV,
    TableFormat.ECSV,
    TableFormat.PARQUET,
    TableFormat.FITS,
    TableFormat.VOTABLE,
)
FLAGGED = Flag.NONFINITE_FLUX | Flag.MISSING_BP | Flag.MISSING_RP

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore::Warning"),  # astropy warns on many corrupt files
]


class Damage(enum.Enum):
    """What a corruption does to a file, and so what the readers may return."""

    #: A cell, the encoding or the line ends changed: every row must come back.
    CELLS = "cells"
    #: The file cut short: the rows before the cut must come back.
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Corrupt:
    data: bytes = field(repr=False)
    damage: Damage
    what: str  # shown when hypothesis reports a failing example

    def __repr__(self) -> str:
        return f"Corrupt({self.what}, {self.damage.name}, {len(self.data)} bytes)"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # how hypothesis prints it
        printer.text(repr(self))


# Values put in place of a number of the file.
REPLACEMENTS = (
    b"nan",
    b"NaN",
    b"inf",
    b"-inf",
    b"1e309",
    b"3.5e38",
    b"1e300",
    b"",
    b" ",
    b"abc",
    b"caf\xe9",  # latin-1, not UTF-8
    b"\xff\xfe",
    b"(1.0, 2.0)",
    b"[]",
    b"1,2",
    b'"',
)
NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
DROP_ARRAY_VALUE = re.compile(rb",\s*[-+]?\d[\d.eE+-]*(?=\s*[,)\]])")


@st.composite
def corruptions(draw: st.DrawFn, original: bytes, text: bool) -> Corrupt:
    """One corruption of ``original``; only truncation and a BOM for binary files."""
    kinds = ["truncate", "bom"] + (["number", "drop", "crlf", "latin1"] if text else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "truncate":
        cut = draw(st.integers(0, len(original) - 1))
        return Corrupt(original[:cut], Damage.TRUNCATED, f"cut at byte {cut}")
    if kind == "bom":
        return Corrupt(b"\xef\xbb\xbf" + original, Damage.CELLS, "UTF-8 BOM")
    if kind == "crlf":
        return Corrupt(original.replace(b"\n", b"\r\n"), Damage.CELLS, "CRLF")
    if kind == "latin1":
        at = draw(st.integers(0, len(original)))
        return Corrupt(original[:at] + b"\xe9" + original[at:], Damage.CELLS, f"\\xe9 at {at}")
    pattern = NUMBER if kind == "number" else DROP_ARRAY_VALUE
    matches = list(pattern.finditer(original)) or list(NUMBER.finditer(original))
    match = matches[draw(st.integers(0, len(matches) - 1))]
    new = draw(st.sampled_from(REPLACEMENTS)) if kind == "number" else b""
    what = f"{match.group()!r} at {match.start()} -> {new!r}"
    return Corrupt(original[: match.start()] + new + original[match.end() :], Damage.CELLS, what)


def sampled_spectra() -> Spectra:
    rng = np.random.default_rng(16)
    n = 6
    return Spectra(
        flux=rng.normal(5.0, 2.0, (n, 186)).astype(np.float32),
        source_id=np.arange(n, dtype=np.int64) * 1_000_003 + 6_917_528_997_577_384_320,
        z=rng.uniform(0.0, 0.6, n),
        phot_g_mean_mag=rng.uniform(17, 20.7, n),
    )


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, tuple[Path, Spectra]]:
    """Each valid file, by name, with the spectra read from it intact."""
    folder = tmp_path_factory.mktemp("valid")
    files = [write_spectra(sampled_spectra(), folder / f"s{f.suffix}", f) for f in SAMPLED_FORMATS]
    files += sorted(p for p in ARCHIVE.iterdir() if p.name.startswith("XP_CONTINUOUS"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {path.name: (path, read_input(path)) for path in files}


SAMPLED_NAMES = [f"s{f.suffix}" for f in SAMPLED_FORMATS]
XP_NAMES = sorted(p.name for p in ARCHIVE.iterdir() if p.name.startswith("XP_CONTINUOUS"))


def is_text(name: str) -> bool:
    if name.endswith(".xml"):
        return name.startswith("s.")  # xpz writes TABLEDATA; the archive BINARY2
    return TableFormat.from_path(name) in TEXT_FORMATS


def check(read, path: Path, original: Spectra, damage: Damage) -> None:
    """``read()`` gives an InputError naming ``path``, or the rows ``damage`` allows."""
    try:
        got = read()
    except InputError as error:
        assert path.name in str(error), str(error)
        assert "\n" not in str(error)
        return
    n = len(got)
    if damage is Damage.CELLS:
        assert got.source_id.tolist() == original.source_id.tolist()
    else:
        assert 0 < n <= len(original)
        assert got.source_id[: n - 1].tolist() == original.source_id[: n - 1].tolist()
    assert len(set(got.source_id.tolist())) == n  # none twice
    bad = ~np.isfinite(got.flux).all(axis=1)
    assert ((got.flag[bad] & FLAGGED) != 0).all(), "a non-finite flux is not flagged"
    # In a sampled table a number either stands or is NaN/inf (and flagged).  (In an
    # XP file one changed coefficient, say 1e300, changes every pixel of its band.)
    if damage is Damage.CELLS and not path.name.startswith("XP_"):
        finite = np.isfinite(got.flux) & np.isfinite(original.flux)
        np.testing.assert_allclose(got.flux[finite], original.flux[finite], rtol=1e-5)


def fuzz(originals, tmp_path_factory, name: str, data: st.DataObject) -> None:
    path, original = originals[name]
    raw = path.read_bytes()
    corrupt = data.draw(corruptions(raw, is_text(name)), label="corruption")
    target = tmp_path_factory.mktemp("fuzz") / path.name
    target.write_bytes(corrupt.data)
    chunk = data.draw(st.integers(1, 4), label="chunk_rows")
    check(lambda: read_input(target), target, original, corrupt.damage)
    check(
        lambda: concatenate(list(iter_input(target, chunk_rows=chunk))),
        target,
        original,
        corrupt.damage,
    )


@pytest.mark.parametrize("name", SAMPLED_NAMES)
@given(data=st.data())
def test_corrupted_sampled_tables(originals, tmp_path_factory, name, data):
    fuzz(originals, tmp_path_factory, name, data)


@pytest.mark.parametrize("name", XP_NAMES)
@given(data=st.data())
def test_corrupted_xp_continuous_files(originals, tmp_path_factory, name, data):
    fuzz(originals, tmp_path_factory, name, data)


# ------------------------------------------------ what the fuzzer found, kept as examples


def replace_in_cell(path: Path, target: Path, column: str, value: str, row: int = 0) -> Path:
    """A copy of the archive CSV ``path`` with the fourth value of ``column``'s array replaced."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(path.read_text())))
    i = rows[0].index(column)
    cell = rows[row + 1][i]
    if cell.startswith("("):
        values = cell[1:-1].split(",")
        values[3] = value
        rows[row + 1][i] = "(" + ",".join(values) + ")"
    else:
        rows[row + 1][i] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    target.write_text(out.getvalue())
    return target


def test_found_a_huge_xp_coefficient_overflows_float32_and_is_flagged(tmp_path):
    path = replace_in_cell(
        ARCHIVE / "XP_CONTINUOUS_RAW.csv", tmp_path / "xp.csv", "bp_coefficients", "1e300"
    )
    for spectra in (read_input(path), concatenate(list(iter_input(path, chunk_rows=1)))):
        assert not np.isfinite(spectra.flux[0]).all()
        assert spectra.flag[0] & Flag.NONFINITE_FLUX and not spectra.flag[1] & FLAGGED


def test_found_a_library_error_is_one_line(tmp_path):
    lines = (ARCHIVE / "XP_CONTINUOUS_RAW.ecsv").read_text().splitlines(keepends=True)
    data = [i for i, line in enumerate(lines) if not line.startswith("#")][1]
    lines[data] = lines[data].replace("5853498713190525696,", "", 1)  # a field short
    path = tmp_path / "short.ecsv"
    path.write_text("".join(lines))
    with pytest.raises(InputError) as caught:
        read_input(path)
    assert str(caught.value).startswith(f"{path}: cannot read it as ecsv")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b'"', r"column 'flag', row 3: value is not an integer"),  # an unclosed quote at the end
        (b"caf\xe9", r"column 'flag', row 3: value is not an integer"),  # latin-1 text
    ],
)
def test_found_a_bad_last_csv_field_is_located(tmp_path, value, problem):
    path = write_spectra(sampled_spectra()[:4], tmp_path / "s.csv")
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data[: data.rindex(b",") + 1] + value + b"\n")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: {problem}"):
        read_input(path)


# -------------------------------------- cells of the binary sampled formats (Parquet, FITS)

CELL_VALUES = (np.nan, np.inf, -np.inf, 1e300, -3.5e38, None, "", "abc", "caf\xe9", "1e309")


@pytest.mark.parametrize("fmt", [TableFormat.PARQUET, TableFormat.FITS])
@given(data=st.data())
def test_corrupted_cells_of_binary_sampled_tables(tmp_path_factory, fmt, data):
    """A cell of a Parquet or FITS table set to NaN, inf, a huge value, null or text."""
    import pandas as pd
    from astropy.table import Table

    original = sampled_spectra()
    column = data.draw(
        st.sampled_from(["z", "source_id", "phot_g_mean_mag", "flag", "flux_0", "flux_185"])
        | st.integers(0, 185).map(lambda i: f"flux_{i}"),
        label="column",
    )
    row = data.draw(st.integers(0, len(original) - 1), label="row")
    value = data.draw(st.sampled_from(CELL_VALUES), label="value")
    valid = write_spectra(original, tmp_path_factory.mktemp("cells") / f"s{fmt.suffix}")
    frame = pd.read_parquet(valid) if fmt is TableFormat.PARQUET else Table.read(valid).to_pandas()
    if isinstance(value, str) or value is None:
        frame[column] = frame[column].astype(str)  # the file then stores text
    elif frame[column].dtype.kind in "iu":
        frame[column] = frame[column].astype(np.float64)  # an integer column stored as floats
    frame.loc[row, column] = value
    path = valid.with_name(f"corrupt{fmt.suffix}")
    if fmt is TableFormat.PARQUET:
        frame.to_parquet(path)
    else:
        Table.from_pandas(frame).write(path)
    check(lambda: read_input(path), path, original, Damage.CELLS)
    check(lambda: concatenate(list(iter_input(path, chunk_rows=4))), path, original, Damage.CELLS)
