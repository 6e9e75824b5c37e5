"""The :class:`Spectra` container: N galaxy spectra on the 186-pixel XP layout.

Every reader returns one, the simulator makes one, models consume one.

>>> import numpy as np
>>> s = Spectra(flux=np.ones((2, 186)), source_id=[1, 2**60 + 1], z=[0.1, 0.2])
>>> len(s), s.flux.dtype.name, bool(s.source_id[1] == 2**60 + 1)
(2, 'float32', True)
>>> s[1:].source_id.tolist()
[1152921504606846977]
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.layout import LAYOUT_VERSION, N_PIXELS

__all__ = ["Flag", "Spectra", "concatenate"]


class Flag(enum.IntFlag):
    """Per-row quality bits.  Stored as ``uint32``; 0 means clean.

    Readers and the simulator set the input bits; :func:`xpz.predict` adds the
    prediction bits.
    """

    NONE = 0
    #: No BP spectrum for this source (its BP pixels are NaN).
    MISSING_BP = 1 << 0
    #: No RP spectrum for this source (its RP pixels are NaN).
    MISSING_RP = 1 << 1
    #: At least one flux is NaN or infinite.
    NONFINITE_FLUX = 1 << 2
    # Bit 3 (1 << 3) was OUTSIDE_TRAINING_RANGE, a test of min-max-scaled pixels that
    # could never fire for L2-normalised models; OUT_OF_DISTRIBUTION replaces it.
    #: Predicted redshift lies at the edge of the model's redshift range.
    Z_AT_EDGE = 1 << 4
    #: No estimate: the model cannot take this spectrum (a non-finite flux, a
    #: missing band, an all-zero spectrum, or a non-finite scaled input), so its
    #: estimates are NaN; the other bits say why.
    NO_ESTIMATE = 1 << 5
    #: The fluxes are physically implausible for a source Gaia observed: total
    #: flux not positive, negative fluxes summing to more than half the positive
    #: ones, or a flux beyond 1e10 e-/s (see :func:`xpz.inference.implausible_flux`).
    #: Such rows keep their estimates, which should not be trusted.
    IMPLAUSIBLE_FLUX = 1 << 6
    #: The spectrum lies far from the model's training set: its ``ood_score``
    #: (Mahalanobis distance of the network's penultimate-layer features to the
    #: training set's, :mod:`xpz.models.ood`) exceeds 1, the threshold that 1% of
    #: validation galaxies exceed.  Works for every model kind and scaler; never
    #: set by models saved without OOD statistics (their ``ood_score`` is NaN).
    OUT_OF_DISTRIBUTION = 1 << 7


def _as_1d(name: str, values: ArrayLike | None, n: int, dtype: type) -> NDArray | None:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if np.issubdtype(dtype, np.integer) and arr.dtype.kind == "f":
        raise TypeError(f"{name} must be integers, got {arr.dtype} (float loses Gaia ids > 2**53)")
    return arr.astype(dtype, copy=False)


@dataclass(frozen=True, eq=False)
class Spectra:
    """N spectra of ``N_PIXELS`` = 186 fluxes in Gaia internal units (e-/s).

    Parameters
    ----------
    flux : array (N, 186)
        Fluxes in e-/s, stored as float32.
    source_id : array (N,) of int, optional
        Gaia DR3 ``source_id`` (int64, exact).  Defaults to 0..N-1.
    flux_error : array (N, 186), optional
        1-sigma flux uncertainties in e-/s.
    z : array (N,), optional
        Spectroscopic (true) redshift, where known.
    phot_g_mean_mag : array (N,), optional
        Gaia G magnitude.
    flag : array (N,) of uint32, optional
        :class:`Flag` bits; defaults to zeros.
    meta : mapping
        Free-form provenance; ``layout_version`` is always present.
    """

    flux: NDArray[np.float32]
    #: Always set after construction (generated as 0..N-1 when not given).
    source_id: NDArray[np.int64] = None  # type: ignore[assignment]
    flux_error: NDArray[np.float32] | None = None
    z: NDArray[np.float64] | None = None
    phot_g_mean_mag: NDArray[np.float64] | None = None
    #: Always set after construction (zeros when not given).
    flag: NDArray[np.uint32] = None  # type: ignore[assignment]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        flux = np.asarray(self.flux)
        if flux.ndim != 2 or flux.shape[1] != N_PIXELS:
            raise ValueError(f"flux must have shape (N, {N_PIXELS}), got {flux.shape}")
        n = flux.shape[0]
        set_ = object.__setattr__
        set_(self, "flux", flux.astype(np.float32, copy=False))
        sid = np.arange(n, dtype=np.int64) if self.source_id is None else self.source_id
        set_(self, "source_id", _as_1d("source_id", sid, n, np.int64))
        if self.flux_error is not None:
            err = np.asarray(self.flux_error)
            if err.shape != flux.shape:
                raise ValueError(f"flux_error must have shape {flux.shape}, got {err.shape}")
            set_(self, "flux_error", err.astype(np.float32, copy=False))
        set_(self, "z", _as_1d("z", self.z, n, np.float64))
        set_(
            self, "phot_g_mean_mag", _as_1d("phot_g_mean_mag", self.phot_g_mean_mag, n, np.float64)
        )
        flag = np.zeros(n, np.uint32) if self.flag is None else self.flag
        set_(self, "flag", _as_1d("flag", flag, n, np.uint32))
        meta = dict(self.meta)
        meta.setdefault("layout_version", LAYOUT_VERSION)
        set_(self, "meta", MappingProxyType(meta))

    def __len__(self) -> int:
        return int(self.flux.shape[0])

    def __getitem__(self, index: int | slice | Sequence[int] | NDArray) -> Spectra:
        """Rows ``index`` as a new :class:`Spectra` (an int gives one row)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]

        def take(a: NDArray | None) -> NDArray | None:
            return None if a is None else a[index]

        return Spectra(
            flux=self.flux[index],
            source_id=self.source_id[index],
            flux_error=take(self.flux_error),
            z=take(self.z),
            phot_g_mean_mag=take(self.phot_g_mean_mag),
            flag=self.flag[index],
            meta=self.meta,
        )

    def __repr__(self) -> str:
        extras = [
            name
            for name in ("flux_error", "z", "phot_g_mean_mag")
            if getattr(self, name) is not None
        ]
        return (
            f"<Spectra: {len(self)} x {N_PIXELS} fluxes; with {', '.join(extras) or 'no extras'}>"
        )

    def replace(self, **changes: Any) -> Spectra:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    def with_flag(self, rows: NDArray[np.bool_], bits: Flag) -> Spectra:
        """A copy with ``bits`` set on the rows where ``rows`` is True."""
        flag = self.flag.copy()
        flag[np.asarray(rows, dtype=bool)] |= np.uint32(bits)
        return self.replace(flag=flag)

    def require_z(self, where: str = "these spectra") -> NDArray[np.float64]:
        """The redshifts, or a clear error if there are none."""
        if self.z is None:
            raise ValueError(f"{where} have no redshift column 'z', which is required here")
        return self.z


def concatenate(parts: Sequence[Spectra]) -> Spectra:
    """Stack several :class:`Spectra` row-wise (metadata of the first part is kept)."""
    if not parts:
        raise ValueError("nothing to concatenate")

    def cat(name: str) -> NDArray | None:
        values = [getattr(p, name) for p in parts]
        if all(v is None for v in values):
            return None
        if any(v is None for v in values):
            raise ValueError(f"cannot concatenate: column {name!r} is missing from some parts")
        return np.concatenate(values)

    return Spectra(
        flux=np.concatenate([p.flux for p in parts]),
        source_id=np.concatenate([p.source_id for p in parts]),
        flux_error=cat("flux_error"),
        z=cat("z"),
        phot_g_mean_mag=cat("phot_g_mean_mag"),
        flag=np.concatenate([p.flag for p in parts]),
        meta=parts[0].meta,
    )
