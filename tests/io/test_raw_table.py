"""Tests of xpz.io.raw_table: loading only the wanted columns, in every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from xpz.io.raw_table import iter_tables, load_table

FRAME = pd.DataFrame(
    {
        "source_id": np.array([5, 6, 7], np.int64),
        "a": [0.5, 1.5, 2.5],
        "wide": ["(1.0, 2.0)", "(3.0, 4.0)", ""],
    }
)


@pytest.fixture(params=["csv", "parquet", "ecsv", "fits", "frame", "table"])
def source(request, tmp_path: Path):
    kind = request.param
    if kind == "frame":
        return FRAME
    table = Table.from_pandas(FRAME)
    if kind == "table":
        return table
    path = tmp_path / f"t.{kind}"
    if kind == "csv":
        FRAME.to_csv(path, index=False)
    elif kind == "parquet":
        FRAME.to_parquet(path)
    else:
        table.write(path)
    return path


def test_only_the_wanted_columns_that_the_table_has_are_loaded(source) -> None:
    full = load_table(source)
    assert set(full.columns) == {"source_id", "a", "wide"}
    (some,) = iter_tables(source, columns=["source_id", "a", "not_there"])
    assert set(some.columns) == {"source_id", "a"} and some.n_rows == 3
    np.testing.assert_array_equal(np.asarray(some.columns["a"], float), [0.5, 1.5, 2.5])


def test_streamed_files_keep_the_selection_in_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    FRAME.to_parquet(path)
    chunks = list(iter_tables(path, chunk_rows=2, columns=["a"]))
    assert [c.n_rows for c in chunks] == [2, 1]
    assert all(set(c.columns) == {"a"} for c in chunks)
    assert [c.first_row for c in chunks] == [0, 2]
