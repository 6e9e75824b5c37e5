"""Recognise the Gaia archive's *sampled* XP spectra, which xpz does not read, and say so.

Besides the ``XP_CONTINUOUS`` coefficients, the archive's DataLink service
serves ``XP_SAMPLED`` mean spectra (DR3 data model ``xp_sampled_mean_spectrum``;
GaiaXPy's test files call them ``XP_SPECTRA_RAW``): one row per source with
``source_id``, ``solution_id``, ``ra``, ``dec`` and the arrays ``flux`` and
``flux_error``, sampled at 343 (or, truncated, fewer) wavelengths in
W m^-2 nm^-1, not on xpz's 186-pixel layout in e-/s.  Read as a sampled xpz
table such a file fails cell by cell ("column 'flux' ... not a number");
:func:`identify` lets :mod:`xpz.io.read` refuse it at once with
:func:`refusal`, one line saying what the file is and what xpz reads.

>>> identify(["source_id", "solution_id", "ra", "dec", "flux", "flux_error"])
True
>>> identify(["source_id", "flux"]), identify(["source_id", "solution_id", "flux_0"])
(False, False)
"""

from __future__ import annotations

from collections.abc import Container

from xpz.errors import InputError

__all__ = ["PRODUCT", "identify", "refusal"]

#: The archive's name of the product recognised here.
PRODUCT = "XP_SAMPLED"

#: Columns that only the archive's products carry (xpz's own tables have none of them).
_ARCHIVE_MARKERS = ("solution_id",)


def identify(columns: Container[str]) -> bool:
    """Whether a table with these column names is the archive's sampled-spectrum product.

    It has one array column ``flux`` (no ``flux_0`` .. ``flux_185``) and a column
    that only archive products have (``solution_id``).  ``columns`` is any
    container of names, e.g. :class:`xpz.io.headers.HeaderColumns` for a file.
    """
    return (
        "flux" in columns
        and "flux_0" not in columns
        and any(marker in columns for marker in _ARCHIVE_MARKERS)
    )


def refusal(where: str) -> InputError:
    """The one-line :class:`~xpz.errors.InputError` for such a file (or table) ``where``.

    >>> print(refusal("s.csv"))  # doctest: +NORMALIZE_WHITESPACE
    s.csv: looks like the Gaia archive's XP_SAMPLED product (array columns flux,
    flux_error at the archive's wavelengths), which xpz does not read; xpz reads
    XP_CONTINUOUS coefficients (download them with 'xpz fetch') or sampled tables
    of 186 pixels with columns flux_0 .. flux_185
    """
    return InputError(
        f"looks like the Gaia archive's {PRODUCT} product (array columns flux, flux_error"
        " at the archive's wavelengths), which xpz does not read; xpz reads XP_CONTINUOUS"
        " coefficients (download them with 'xpz fetch') or sampled tables of 186 pixels"
        " with columns flux_0 .. flux_185",
        path=where,
    )
