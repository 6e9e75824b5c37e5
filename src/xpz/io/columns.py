"""Column conventions of xpz spectrum tables, and the validation every reader shares.

A spectrum table follows the dissertation's Table 1: one row per galaxy, the
redshift ``z`` and then the 186 fluxes ``flux_0`` .. ``flux_185`` in e-/s.
Optional columns are ``source_id`` (Gaia DR3 id, int64), ``phot_g_mean_mag``,
``flag`` (:class:`xpz.spectra.Flag` bits) and the 1-sigma errors
``flux_error_0`` .. ``flux_error_185``.  Instead of 186 scalar columns a table
may hold one 2-D (or list-valued) column ``flux`` / ``flux_error`` of width 186.

Readers turn a file (or an astropy Table / pandas DataFrame) into a mapping of
column name -> numpy array and hand it to :func:`spectra_from_columns`, so that
every entry point applies the same checks and names the same file, row and
column when something is wrong.  Rows are 0-based data rows of the whole file.

>>> flux_column_names()[:2], len(flux_column_names("flux_error"))
(['flux_0', 'flux_1'], 186)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError
from xpz.io.labels import check_labels
from xpz.io.source_ids import SeenIds
from xpz.layout import N_BP, N_PIXELS
from xpz.spectra import Flag, Spectra

__all__ = [
    "SCALAR_COLUMNS",
    "column_order",
    "columns_from_spectra",
    "flux_column_names",
    "known_column",
    "spectra_from_columns",
]

#: Scalar columns and the numpy type each is read as.
SCALAR_COLUMNS: dict[str, type] = {
    "z": np.float64,
    "source_id": np.int64,
    "phot_g_mean_mag": np.float64,
    "flag": np.uint32,
}

_PIXEL_PREFIXES = ("flux", "flux_error")
_PIXEL_COLUMN = re.compile(r"^(flux|flux_error)_(\d+)$")


def flux_column_names(prefix: str = "flux") -> list[str]:
    """The 186 per-pixel column names ``prefix_0`` .. ``prefix_185``."""
    return [f"{prefix}_{i}" for i in range(N_PIXELS)]


def known_column(name: str, *, flux_error: bool = True) -> bool:
    """True for a column xpz reads (other columns, e.g. ``ra``, are ignored).

    ``flux_error=False`` leaves out the flux errors (``flux_error``,
    ``flux_error_<i>``), for models that read fluxes only.

    >>> known_column("flux_12"), known_column("flux_999"), known_column("ra")
    (True, True, False)
    >>> known_column("flux_error_3"), known_column("flux_error_3", flux_error=False)
    (True, False)
    """
    if not flux_error and (name == "flux_error" or name.startswith("flux_error_")):
        return False
    return name in SCALAR_COLUMNS or name in _PIXEL_PREFIXES or bool(_PIXEL_COLUMN.match(name))


def column_order(*, z: bool, source_id: bool, g_mag: bool, flux_error: bool) -> list[str]:
    """Column order of written tables: Table 1 first (``z``, ``flux_0`` .. ``flux_185``).

    Then ``source_id``, ``phot_g_mean_mag``, ``flag`` and the flux errors.

    >>> column_order(z=True, source_id=False, g_mag=False, flux_error=False)[:2]
    ['z', 'flux_0']
    """
    names = (["z"] if z else []) + flux_column_names()
    names += (["source_id"] if source_id else []) + (["phot_g_mean_mag"] if g_mag else [])
    return names + ["flag"] + (flux_column_names("flux_error") if flux_error else [])


def columns_from_spectra(spectra: Spectra) -> dict[str, NDArray]:
    """Per-pixel columns of ``spectra`` in :func:`column_order` (views, not copies)."""
    order = column_order(
        z=spectra.z is not None,
        source_id=True,
        g_mag=spectra.phot_g_mean_mag is not None,
        flux_error=spectra.flux_error is not None,
    )
    out: dict[str, NDArray] = {}
    for name in order:
        match = _PIXEL_COLUMN.match(name)
        if match:
            out[name] = getattr(spectra, match.group(1))[:, int(match.group(2))]
        else:
            out[name] = getattr(spectra, name)
    return out


def spectra_from_columns(
    columns: Mapping[str, Any],
    *,
    source: str,
    first_row: int = 0,
    require_z: bool = False,
    training: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> Spectra:
    """Validate columns read from ``source`` and build :class:`Spectra`.

    Parameters
    ----------
    columns : mapping of name -> array
        1-D arrays per column (numpy, masked or object arrays of strings), or 2-D
        ``flux``/``flux_error`` arrays of width 186.  Unknown names are ignored.
    source : str
        File name (or description) used in error messages.
    first_row : int
        Data row number of the first row in the file, so errors name file rows.
    require_z : bool
        Fail if there is no ``z`` column.
    training : bool
        Training data: implies ``require_z``; every ``z`` must be finite and in
        :data:`xpz.layout.Z_RANGE`, and every flux finite
        (:func:`xpz.io.labels.check_labels`).  Otherwise non-finite fluxes are
        kept and their rows flagged :attr:`Flag.NONFINITE_FLUX`.
    meta : mapping, optional
        Metadata for the result; ``source_id_generated`` is added when the table
        has no ``source_id`` (ids are then the row numbers).
    """
    ctx = _Context(source, first_row)
    n = _row_count(columns, ctx)
    flux = _pixel_block(columns, "flux", n, ctx)
    if flux is None:
        raise ctx.error(f"no flux columns: expected 'flux_0' .. 'flux_{N_PIXELS - 1}'")
    flux_error = _pixel_block(columns, "flux_error", n, ctx)
    z = _float_column(columns, "z", ctx)
    check_labels(
        z, flux, source=source, first_row=first_row, require_z=require_z, training=training
    )
    meta = dict(meta or {})
    source_id = _int_column(columns, "source_id", ctx)
    if source_id is None:
        source_id = np.arange(first_row, first_row + n, dtype=np.int64)
        meta["source_id_generated"] = True
    else:
        SeenIds().add(source_id, first_row=first_row, source=source)  # no repeats
    flag = _int_column(columns, "flag", ctx)
    flag = np.zeros(n, np.uint32) if flag is None else flag
    return Spectra(
        flux=flux,
        source_id=source_id,
        flux_error=flux_error,
        z=z,
        phot_g_mean_mag=_float_column(columns, "phot_g_mean_mag", ctx),
        flag=flag | _input_flags(flux),
        meta=meta,
    )


class _Context:
    """Where the rows being validated come from."""

    def __init__(self, source: str, first_row: int) -> None:
        self.source = source
        self.first_row = first_row

    def error(
        self, problem: str, *, rows: ArrayLike | None = None, column: str | None = None
    ) -> InputError:
        absolute = None if rows is None else (np.asarray(rows) + self.first_row).tolist()
        return InputError(problem, path=self.source, rows=absolute, column=column)


def _row_count(columns: Mapping[str, Any], ctx: _Context) -> int:
    lengths = {len(v) for k, v in columns.items() if known_column(k)}
    if not lengths:
        raise ctx.error(f"no flux columns: expected 'flux_0' .. 'flux_{N_PIXELS - 1}'")
    if len(lengths) > 1:
        raise ctx.error(f"columns have different lengths {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        raise ctx.error("the table has no data rows")
    return n


def _names_summary(names: list[str], limit: int = 8) -> str:
    """'a, b, c and 5 more'."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _pixel_block(columns: Mapping[str, Any], prefix: str, n: int, ctx: _Context) -> NDArray | None:
    """The (n, 186) float32 block ``prefix`` from one 2-D column or 186 scalar columns."""
    numbered = sorted(
        (int(m.group(2)), name)
        for name in columns
        if (m := _PIXEL_COLUMN.match(name)) and m.group(1) == prefix
    )
    if prefix in columns:
        if numbered:
            raise ctx.error(f"has both a '{prefix}' column and '{prefix}_<i>' columns")
        block = _as_block(columns[prefix], prefix, ctx)
        if block.ndim != 2 or block.shape[1] != N_PIXELS:
            raise ctx.error(
                f"'{prefix}' must hold {N_PIXELS} values per row, got shape {block.shape}",
                column=prefix,
            )
        return block
    if not numbered:
        return None
    expected = set(range(N_PIXELS))
    present = {i for i, _ in numbered}
    missing = [f"{prefix}_{i}" for i in sorted(expected - present)]
    extra = [name for i, name in numbered if i not in expected]
    if missing or extra:
        problems = [f"missing {_names_summary(missing)}"] if missing else []
        problems += [f"unexpected {_names_summary(extra)}"] if extra else []
        raise ctx.error(
            f"expected {N_PIXELS} columns {prefix}_0 .. {prefix}_{N_PIXELS - 1}, found"
            f" {len(numbered)}: {'; '.join(problems)}"
        )
    block = np.empty((n, N_PIXELS), np.float32)
    for i, name in numbered:
        block[:, i] = _as_float(columns[name], name, ctx)
    return block


def _as_block(values: Any, name: str, ctx: _Context) -> NDArray[np.float32]:
    """A 2-D column (or a 1-D column of per-row sequences, as pandas holds them) as float32."""
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        lengths = np.array([np.size(v) for v in values])
        wrong = np.flatnonzero(lengths != N_PIXELS)
        if wrong.size:
            raise ctx.error(
                f"must hold {N_PIXELS} values per row, found {lengths[wrong[0]]}",
                rows=wrong,
                column=name,
            )
        values = np.stack([np.asarray(v, dtype=np.float32) for v in values])
    return np.ma.filled(np.ma.asarray(values, dtype=np.float32), np.nan)


def _as_float(values: Any, name: str, ctx: _Context) -> NDArray[np.float64]:
    """Values as floats (masked -> NaN); strings must parse as numbers."""
    if isinstance(values, np.ma.MaskedArray):
        values = np.ma.filled(values.astype(np.float64), np.nan)
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr
    try:
        return arr.astype(np.float64)
    except (ValueError, TypeError):
        bad = [i for i, v in enumerate(arr.tolist()) if not _parses(v, float)] or None
        example = f" (e.g. {arr[bad[0]]!r})" if bad else ""
        raise ctx.error(f"value is not a number{example}", rows=bad, column=name) from None


def _parses(value: Any, kind: type) -> bool:
    if value is None:
        return kind is float
    try:
        kind(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _float_column(columns: Mapping[str, Any], name: str, ctx: _Context) -> NDArray | None:
    return None if name not in columns else _as_float(columns[name], name, ctx)


def _int_column(columns: Mapping[str, Any], name: str, ctx: _Context) -> NDArray | None:
    """An integer column, exact (never through float); missing values are errors."""
    if name not in columns:
        return None
    values, dtype = columns[name], SCALAR_COLUMNS[name]
    if isinstance(values, np.ma.MaskedArray) and values.mask.any():
        rows = np.flatnonzero(np.ma.getmaskarray(values))
        raise ctx.error("value is missing", rows=rows, column=name)
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        exact = " Gaia ids above 2**53 are not exact as floats;" if name == "source_id" else ""
        raise ctx.error(f"is stored as floating point;{exact} store it as integers", column=name)
    if arr.dtype.kind not in "iu":
        texts = [str(v).strip() for v in arr.tolist()]
        bad = [i for i, text in enumerate(texts) if not _parses(text, int)]
        if bad:
            raise ctx.error(
                f"value is not an integer (e.g. {texts[bad[0]]!r})", rows=bad, column=name
            )
        arr = np.array([int(text) for text in texts], dtype=object)
    info = np.iinfo(dtype)
    out_of_range = np.flatnonzero((arr < info.min) | (arr > info.max))
    if out_of_range.size:
        raise ctx.error(
            f"value outside the {np.dtype(dtype).name} range", rows=out_of_range, column=name
        )
    return arr.astype(dtype)


def _input_flags(flux: NDArray[np.float32]) -> NDArray[np.uint32]:
    """:class:`Flag` bits for missing bands and non-finite fluxes, per row."""
    nan = np.isnan(flux)
    flag = np.where(nan[:, :N_BP].all(axis=1), np.uint32(Flag.MISSING_BP), 0)
    flag |= np.where(nan[:, N_BP:].all(axis=1), np.uint32(Flag.MISSING_RP), 0)
    flag |= np.where(~np.isfinite(flux).all(axis=1), np.uint32(Flag.NONFINITE_FLUX), 0)
    return flag.astype(np.uint32)
