"""The checks on labelled input (spectra with a true redshift), shared by every reader.

Training and evaluation need the spectroscopic redshift ``z``; training also
needs every ``z`` finite and within :data:`xpz.layout.Z_RANGE` (the
dissertation's sample spans 0 to 0.6) and every flux finite, since one NaN
poisons a gradient.  Sampled tables and Gaia ``XP_CONTINUOUS`` tables go
through :func:`check_labels` alike (:mod:`xpz.io.read`), so the same problem
gives the same :class:`~xpz.errors.InputError`, naming file, rows and column.

>>> import numpy as np
>>> z, flux = np.array([0.1, 0.9]), np.ones((2, 186), np.float32)
>>> check_labels(z, flux, source="s.csv", first_row=10, training=True)
Traceback (most recent call last):
...
xpz.errors.InputError: s.csv: column 'z', row 11: redshift outside [0.0, 0.6] allowed for training (e.g. 0.9)
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.layout import Z_RANGE

__all__ = ["Labels", "check_labels", "check_redshifts"]


class Labels(enum.Enum):
    """What a reader demands of the redshift labels of its input."""

    #: No demand: ``z`` is read when present (prediction).
    OPTIONAL = "optional"
    #: A ``z`` column must be present (evaluation).
    REQUIRED = "required"
    #: ``z`` present, finite and within :data:`xpz.layout.Z_RANGE`; fluxes finite (training).
    TRAINING = "training"
    #: ``z`` present, finite and within :data:`xpz.layout.Z_RANGE` (evaluation;
    #: :func:`check_redshifts`, after prediction has flagged unreadable fluxes).
    EVALUATION = "evaluation"

    @classmethod
    def of(cls, *, require_z: bool, training: bool) -> Labels:
        """The demand of the readers' ``require_z`` / ``training`` flags."""
        if training:
            return cls.TRAINING
        return cls.REQUIRED if require_z else cls.OPTIONAL


def check_labels(
    z: NDArray | None,
    flux: NDArray,
    *,
    source: str,
    first_row: int = 0,
    require_z: bool = False,
    training: bool = False,
) -> None:
    """Refuse rows that do not meet the demand (see :class:`Labels`).

    Parameters
    ----------
    z : (N,) array or None
        Redshifts (dimensionless), ``None`` when the input has no ``z`` column.
    flux : (N, 186) array
        Sampled fluxes (e-/s).
    source : str
        The file (or table description) named in the error.
    first_row : int
        Row of the file that is row 0 here (for chunks of a longer file).
    require_z, training : bool
        The demand, as :meth:`Labels.of`.
    """
    demand = Labels.of(require_z=require_z, training=training)
    if demand is Labels.OPTIONAL:
        return
    if z is None:
        raise InputError("no redshift column; it is required here", path=source, column="z")
    if demand is Labels.TRAINING:
        _check_training(np.asarray(z), np.asarray(flux), source, first_row)


def _rows_error(problem: str, rows: NDArray, column: str, source: str, first_row: int):
    """The :class:`InputError` for ``rows`` of a chunk that starts at file row ``first_row``."""
    return InputError(problem, path=source, rows=(rows + first_row).tolist(), column=column)


def check_redshifts(
    z: NDArray, *, source: str, first_row: int = 0, use: Labels = Labels.TRAINING
) -> None:
    """Refuse redshift labels that are not finite or lie outside :data:`~xpz.layout.Z_RANGE`.

    Training and evaluation both demand this (``use`` names which in the message),
    so a model is never scored on labels it could not have been trained on.

    >>> check_redshifts(np.array([0.1, np.nan]), source="e.csv", use=Labels.EVALUATION)
    Traceback (most recent call last):
    ...
    xpz.errors.InputError: e.csv: column 'z', row 1: redshift is NaN or infinite in evaluation data
    """
    lo, hi = Z_RANGE
    bad_z = np.flatnonzero(~np.isfinite(z))
    if bad_z.size:
        problem = f"redshift is NaN or infinite in {use.value} data"
        raise _rows_error(problem, bad_z, "z", source, first_row)
    outside = np.flatnonzero((z < lo) | (z > hi))
    if outside.size:
        problem = f"redshift outside [{lo}, {hi}] allowed for {use.value} (e.g. {z[outside[0]]})"
        raise _rows_error(problem, outside, "z", source, first_row)


def _check_training(z: NDArray, flux: NDArray, source: str, first_row: int) -> None:
    check_redshifts(z, source=source, first_row=first_row)
    bad = ~np.isfinite(flux)
    if bad.any():
        first_column = int(np.flatnonzero(bad.any(axis=0))[0])
        raise _rows_error(
            f"flux is NaN or infinite, not allowed in training data"
            f" ({int(bad.any(axis=1).sum())} rows in all)",
            np.flatnonzero(bad[:, first_column]),
            f"flux_{first_column}",
            source,
            first_row,
        )
