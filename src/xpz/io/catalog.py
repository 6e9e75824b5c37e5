"""The redshift catalogue that ``xpz predict`` writes: columns, units, formats.

Columns (one row per input spectrum, in input order, none dropped):

==============  ========  ==========================================================
name            type      meaning
==============  ========  ==========================================================
source_id       int64     Gaia DR3 source_id, copied exactly from the input
z_pred          float32   redshift estimate (median of the PDF for distributional
                          models, the network output for point models)
z_err           float32   1-sigma uncertainty ((z_q84 - z_q16) / 2); NaN when the
                          model gives no distribution
z_q025 ...      float32   2.5, 16, 84, 97.5 percentiles, where the model gives them
ood_score       float32   out-of-distribution score (:mod:`xpz.models.ood`): above 1
                          the row has ``OUT_OF_DISTRIBUTION``; NaN for models saved
                          without OOD statistics
flag            uint32    :class:`xpz.spectra.Flag` bits (input and prediction);
                          rows with ``NO_ESTIMATE`` have NaN estimates
==============  ========  ==========================================================

:class:`CatalogIds` refuses a ``source_id`` that two input files share.

Parquet and CSV are written while predicting (bounded memory); FITS, ECSV and
VOTable are assembled in memory (a few tens of bytes per row) and written at the
end.  Every output is written to a temporary file and renamed when complete.
Every format reads back with its ecosystem's default reader (astropy's
``Table.read``, ``pandas.read_csv`` / ``read_parquet``, TOPCAT) without options,
so a CSV catalogue is a plain header and rows: the provenance (model, its
checksum, inputs, versions) is kept in the metadata of the other formats only.
"""

from __future__ import annotations

import enum
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.io.atomic import atomic_path
from xpz.io.formats import TableFormat
from xpz.io.source_ids import SeenIds
from xpz.spectra import Flag, Spectra

__all__ = [
    "CATALOG_FORMATS",
    "COLUMN_DESCRIPTIONS",
    "CatalogIds",
    "CatalogWriter",
    "catalog_format",
    "catalog_table",
]

COLUMN_DESCRIPTIONS = {
    "source_id": "Gaia DR3 source identifier",
    "z_pred": "Estimated redshift",
    "z_err": "1-sigma redshift uncertainty, (z_q84 - z_q16) / 2",
    "z_q025": "2.5th percentile of the redshift distribution",
    "z_q16": "16th percentile of the redshift distribution",
    "z_q84": "84th percentile of the redshift distribution",
    "z_q975": "97.5th percentile of the redshift distribution",
    "ood_score": "Out-of-distribution score: distance to the training set, 1 = threshold",
    "flag": "Quality bits: " + ", ".join(f"{f.value}={f.name}" for f in Flag if f.value),
}
_ORDER = tuple(COLUMN_DESCRIPTIONS)


#: The formats the catalogue is written in (Parquet when the name has no suffix).
CATALOG_FORMATS = (
    TableFormat.PARQUET,
    TableFormat.FITS,
    TableFormat.ECSV,
    TableFormat.CSV,
    TableFormat.VOTABLE,
)


def catalog_format(path: str | Path, format: TableFormat | str | None = None) -> TableFormat:
    """The format named by ``format``, else by the suffix of ``path`` (Parquet if none).

    >>> catalog_format("z.fits").value, catalog_format("z").value, catalog_format("z", "csv").value
    ('fits', 'parquet', 'csv')
    """
    known = ", ".join(f.value for f in CATALOG_FORMATS)
    if format is not None:
        value = format.value if isinstance(format, enum.Enum) else str(format).lower()
        fmt = next((f for f in CATALOG_FORMATS if f.value == value), None)
        if fmt is None:
            raise InputError(f"unknown output format {format!r} (known: {known})")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix == "":
        return TableFormat.PARQUET
    fmt = next((f for f in CATALOG_FORMATS if suffix in f.suffixes), None)
    if fmt is None:
        raise InputError(
            f"cannot tell the output format from suffix {suffix!r}; use --format", path=path
        )
    return fmt


def _columns(estimates: Mapping[str, NDArray], source_id: NDArray, flag: NDArray) -> dict:
    cols: dict[str, NDArray] = {"source_id": np.asarray(source_id, np.int64)}
    for name in _ORDER[1:-1]:
        if name in estimates:
            cols[name] = np.asarray(estimates[name], np.float32)
        elif name in ("z_err", "ood_score"):
            cols[name] = np.full(len(source_id), np.nan, np.float32)
    cols["flag"] = np.asarray(flag, np.uint32)
    return cols


def catalog_table(
    estimates: Mapping[str, NDArray],
    source_id: NDArray,
    flag: NDArray,
    meta: Mapping[str, Any] | None = None,
):  # -> astropy.table.Table
    """The catalogue rows as an astropy Table with units and descriptions."""
    from astropy import units as u
    from astropy.table import Table

    table = Table(_columns(estimates, source_id, flag), meta=dict(meta or {}))
    for name, column in table.columns.items():
        column.description = COLUMN_DESCRIPTIONS[name]
        if name.startswith("z_"):
            column.unit = u.dimensionless_unscaled
    return table


class CatalogWriter:
    """Write catalogue chunks to ``path``; the file appears only when :meth:`close` succeeds.

    Use as a context manager; an exception inside the block leaves no output.
    """

    def __init__(
        self, path: str | Path, format: TableFormat | str | None, meta: Mapping[str, Any]
    ) -> None:
        self.path = Path(path)
        self.format = catalog_format(self.path, format)
        self.meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
        self._atomic = atomic_path(self.path)
        self._tmp = self.path  # replaced by the temporary path in __enter__
        self._stream: Any = None
        self._held: list = []
        self.rows = 0

    def __enter__(self) -> CatalogWriter:
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, estimates: Mapping[str, NDArray], source_id: NDArray, flag: NDArray) -> None:
        """Append one chunk of rows."""
        table = catalog_table(estimates, source_id, flag, self.meta)
        self.rows += len(table)
        if self.format is TableFormat.PARQUET:
            self._write_parquet(table)
        elif self.format is TableFormat.CSV:
            self._write_csv(table)
        else:
            self._held.append(table)

    def _write_parquet(self, table) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.table({name: table[name].data for name in table.colnames})
        if self._stream is None:
            fields = [
                arrow.schema.field(name).with_metadata({"description": COLUMN_DESCRIPTIONS[name]})
                for name in table.colnames
            ]
            schema = pa.schema(fields, metadata={k: str(v) for k, v in self.meta.items()})
            self._stream = pq.ParquetWriter(str(self._tmp), schema)
        self._stream.write_table(arrow.cast(self._stream.schema))

    def _write_csv(self, table) -> None:
        if self._stream is None:
            self._stream = open(self._tmp, "w", newline="")  # noqa: SIM115 - closed in __exit__
            self._stream.write(",".join(table.colnames) + "\n")
        table.write(self._stream, format="ascii.no_header", delimiter=",")

    def _finish(self) -> None:
        from astropy.table import vstack

        if self.format in (TableFormat.PARQUET, TableFormat.CSV):
            if self._stream is None:  # no rows at all: still write a valid, empty file
                self.write({"z_pred": np.empty(0)}, np.empty(0, np.int64), np.empty(0))
            self._stream.close()
            self._stream = None
            return
        held = self._held or [
            catalog_table({"z_pred": np.empty(0)}, np.empty(0, np.int64), np.empty(0), self.meta)
        ]
        table = vstack(held, metadata_conflicts="silent")
        table.meta.update(self.meta)
        astropy_format = {
            TableFormat.FITS: "fits",
            TableFormat.ECSV: "ascii.ecsv",
            TableFormat.VOTABLE: "votable",
        }[self.format]
        if self.format is TableFormat.VOTABLE:  # VOTable has no unsigned integers
            table["flag"] = table["flag"].astype(np.int64)
        with warnings.catch_warnings():  # long keys become FITS HIERARCH cards, as intended
            warnings.simplefilter("ignore", category=UserWarning)
            table.write(self._tmp, format=astropy_format)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self._finish()
            except BaseException as err:  # the output is incomplete: discard it
                exc_type, exc, tb = type(err), err, err.__traceback__
        if self._stream is not None:
            self._stream.close()
        if self._atomic.__exit__(exc_type, exc, tb) is not True and exc is not None:
            raise exc


class CatalogIds:
    """``source_id`` values of all the input files of one catalogue so far, to refuse repeats.

    Each file's reader refuses repeats within it; this refuses an id that two
    files share, naming both.  Ids the reader generated (a table without a
    ``source_id`` column) are not checked.
    """

    def __init__(self) -> None:
        self._seen = SeenIds()
        self._starts: list[tuple[int, Path]] = []  # (first catalogue row, file)
        self._rows = 0

    def add(self, spectra: Spectra, path: Path, first_row: int) -> None:
        """Record one chunk of ``path`` (its rows ``first_row``...)."""
        if first_row == 0:
            self._starts.append((self._rows, path))
        offset = self._rows
        self._rows += len(spectra)
        if spectra.meta.get("source_id_generated"):
            return
        try:
            self._seen.add(spectra.source_id, first_row=offset, source="<catalogue>")
        except InputError as err:
            where = [self._where(row) for row in err.rows or []]
            value = spectra.source_id[(err.rows or [offset])[-1] - offset]
            raise InputError(
                f"duplicate source_id {value}: {' and '.join(where)} share it "
                "(one catalogue needs unique ids)",
                path=path,
            ) from None

    def _where(self, row: int) -> str:
        start, path = next((s, p) for s, p in reversed(self._starts) if s <= row)
        return f"{path} row {row - start}"
