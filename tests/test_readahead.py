"""Read-ahead of one chunk: order kept, errors where they arise, one extra item at most."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from xpz import inference
from xpz.errors import InputError
from xpz.readahead import read_ahead


class Counting:
    """An iterator that records how many items it has produced and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self):
        return self

    def __next__(self) -> int:
        self.threads.add(threading.current_thread().name)
        if self.produced == self.fail_at:
            raise InputError("bad cell", path="in.parquet", rows=[self.produced], column="flux")
        if self.produced >= self.n:
            raise StopIteration
        self.produced += 1
        return self.produced - 1

    def close(self) -> None:
        self.closed = True


def test_order_kept_and_produced_in_a_thread():
    source = Counting(50)
    assert list(read_ahead(source)) == list(range(50))
    assert source.threads == {"xpz-read-ahead"}


def test_error_raised_after_the_items_before_it_unchanged():
    got = []
    with pytest.raises(InputError) as caught:
        for item in read_ahead(Counting(10, fail_at=4)):
            got.append(item)
    assert got == [0, 1, 2, 3]
    assert str(caught.value.path) == "in.parquet" and caught.value.rows == [4]


@pytest.mark.parametrize("depth", [1, 2])
def test_at_most_depth_items_ahead(depth):
    source = Counting(20)
    for item in read_ahead(source, depth=depth):
        time.sleep(0.01)  # give the thread every chance to run ahead
        assert source.produced <= item + 1 + depth


def test_no_thread_at_depth_zero():
    source = Counting(3)
    assert list(read_ahead(source, depth=0)) == [0, 1, 2]
    assert source.threads == {threading.current_thread().name}
    with pytest.raises(ValueError, match="depth"):
        list(read_ahead(Counting(1), depth=-1))


def test_stopping_early_stops_the_thread_and_closes_the_source():
    source = Counting(1000)
    before = threading.active_count()
    chunks = read_ahead(source)
    assert next(chunks) == 0
    chunks.close()
    assert source.closed and source.produced <= 2
    assert threading.active_count() == before


@pytest.fixture
def tiny_model(tmp_path, toy_spectra):
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    model = build_model(PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,)), seed=0)
    return save_model(tmp_path / "model", model, MinMaxScaler().fit(toy_spectra.flux))


def test_predict_files_same_catalogue_with_and_without_read_ahead(
    tmp_path, tiny_model, toy_spectra
):
    from astropy.table import Table

    from xpz.io.tables import write_spectra

    write_spectra(toy_spectra[:11], tmp_path / "a.parquet")
    write_spectra(toy_spectra[11:], tmp_path / "b.csv")
    inputs = [tmp_path / "a.parquet", tmp_path / "b.csv"]
    tables = []
    for depth in (0, 1):
        out = tmp_path / f"cat{depth}.parquet"
        inference.predict_files(tiny_model, inputs, out, chunk_rows=4, read_ahead=depth)
        tables.append(Table.read(out))
    np.testing.assert_array_equal(tables[0]["source_id"], toy_spectra.source_id)
    np.testing.assert_array_equal(tables[1]["source_id"], tables[0]["source_id"])
    np.testing.assert_array_equal(tables[1]["z_pred"], tables[0]["z_pred"])


def test_predict_files_reader_error_names_file_and_row(tmp_path, tiny_model, toy_spectra):
    from xpz.io.tables import write_spectra

    write_spectra(toy_spectra, tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    lines = (tmp_path / "good.csv").read_text().splitlines()
    header = [name.strip('"') for name in lines[0].split(",")]
    row = lines[7].split(",")  # data row 6 of the file (0-based), in its third chunk
    row[header.index("flux_10")] = "not-a-number"
    lines[7] = ",".join(row)
    bad.write_text("\n".join(lines) + "\n")
    messages = []
    for depth in (0, 1):
        with pytest.raises(InputError) as caught:
            inference.predict_files(
                tiny_model, [bad], tmp_path / f"x{depth}.parquet", chunk_rows=3, read_ahead=depth
            )
        assert str(caught.value.path).endswith("bad.csv") and caught.value.rows == [6]
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert not list(tmp_path.glob("x*.parquet"))
