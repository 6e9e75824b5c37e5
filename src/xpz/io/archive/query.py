"""The archive query behind ``xpz fetch``: Gaia DR3 galaxy candidates with XP spectra.

:func:`build_candidates_query` writes the ADQL that selects
``gaiadr3.galaxy_candidates`` joined to ``gaiadr3.gaia_source`` (aliases ``g``
and ``s``), restricted to sources with XP_CONTINUOUS spectra and optionally to a
user's target list, uploaded as ``tap_upload.xpz_targets`` and read by
:func:`read_upload`, and to an extra ADQL condition.
"""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import TYPE_CHECKING

from xpz.errors import InputError, XpzError

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "CANDIDATE_COLUMNS",
    "UPLOAD_TABLE_NAME",
    "UploadKind",
    "build_candidates_query",
    "read_upload",
]

UPLOAD_TABLE_NAME = "xpz_targets"
"""Name of the uploaded target table; the query joins it as ``tap_upload.xpz_targets``."""

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "g.source_id",
    "g.classprob_dsc_combmod_galaxy",
    "g.classprob_dsc_combmod_quasar",
    "g.classlabel_dsc",
    "g.classlabel_dsc_joint",
    "g.classlabel_oa",
    "g.vari_best_class_name",
    "g.radius_sersic",
    "g.redshift_ugc",
    "g.redshift_ugc_lower",
    "g.redshift_ugc_upper",
    "s.ra",
    "s.dec",
    "s.phot_g_mean_mag",
    "s.phot_bp_mean_flux",
    "s.phot_rp_mean_flux",
)
"""Columns of the candidate table: ``g`` is galaxy_candidates, ``s`` is gaia_source."""


class UploadKind(enum.Enum):
    """How an uploaded target table is matched to Gaia sources."""

    SOURCE_ID = "source_id"
    """Exact match on a ``source_id`` column."""
    POSITION = "position"
    """Cone match of ``ra``/``dec`` columns (degrees, ICRS) within a radius."""


def _validate_where(where: str) -> str:
    text = where.strip()
    if not text:
        raise XpzError("--where is empty")
    if ";" in text:
        raise XpzError(f"--where must be one ADQL condition without ';': {where!r}")
    if "--" in text:
        raise XpzError(f"--where must not contain an ADQL comment ('--'): {where!r}")
    return text


def build_candidates_query(
    *,
    where: str | None = None,
    upload: UploadKind | None = None,
    limit: int | None = None,
    g_max: float | None = None,
    match_radius_arcsec: float = 1.0,
) -> str:
    """ADQL selecting galaxy candidates with XP spectra, ordered by source_id.

    ``where`` is an extra ADQL condition on the aliases ``g`` (galaxy_candidates)
    and ``s`` (gaia_source); ``g_max`` bounds the G magnitude (mag);
    ``match_radius_arcsec`` is the cone radius for a :attr:`UploadKind.POSITION` upload.

    >>> print(build_candidates_query(limit=10, g_max=20.5))  # doctest: +ELLIPSIS
    SELECT TOP 10 g.source_id, g.classprob_dsc_combmod_galaxy, ..., s.phot_rp_mean_flux
    FROM gaiadr3.galaxy_candidates AS g
    JOIN gaiadr3.gaia_source AS s ON s.source_id = g.source_id
    WHERE s.has_xp_continuous = 'True'
      AND s.phot_g_mean_mag <= 20.5
    ORDER BY g.source_id
    """
    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise XpzError(f"--limit must be a positive integer, got {limit!r}")
    if g_max is not None and not math.isfinite(g_max):
        raise XpzError(f"--g-max must be a finite magnitude, got {g_max!r}")
    if not (math.isfinite(match_radius_arcsec) and match_radius_arcsec > 0):
        raise XpzError(f"match radius must be positive arcsec, got {match_radius_arcsec!r}")

    top = "" if limit is None else f"TOP {int(limit)} "
    lines = [
        f"SELECT {top}{', '.join(CANDIDATE_COLUMNS)}",
        "FROM gaiadr3.galaxy_candidates AS g",
        "JOIN gaiadr3.gaia_source AS s ON s.source_id = g.source_id",
    ]
    u = f"tap_upload.{UPLOAD_TABLE_NAME}"
    if upload is UploadKind.SOURCE_ID:
        lines.append(f"JOIN {u} AS u ON u.source_id = g.source_id")
    elif upload is UploadKind.POSITION:
        radius_deg = match_radius_arcsec / 3600.0
        lines.append(
            f"JOIN {u} AS u ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), "
            f"CIRCLE('ICRS', u.ra, u.dec, {radius_deg!r}))"
        )
    lines.append("WHERE s.has_xp_continuous = 'True'")
    if g_max is not None:
        lines.append(f"  AND s.phot_g_mean_mag <= {float(g_max)!r}")
    if where is not None:
        lines.append(f"  AND ({_validate_where(where)})")
    lines.append("ORDER BY g.source_id")
    return "\n".join(lines)


def read_upload(path: str | Path) -> tuple[Table, UploadKind]:
    """Read a target list: a ``source_id`` column, or ``ra`` and ``dec`` in degrees.

    Any format astropy reads (CSV, ECSV, FITS, VOTable).  Only the matching
    column(s) are kept, so nothing else travels to the archive.
    """
    import numpy as np
    from astropy.table import Table

    path = Path(path)
    try:
        fmt = "ascii.csv" if path.suffix.lower() == ".csv" else None
        table = Table.read(path, format=fmt)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the upload table ({exc})", path=path) from exc
    names = {n.lower(): n for n in table.colnames}
    if "source_id" in names:
        col = table[names["source_id"]]
        bad = np.flatnonzero(np.ma.getmaskarray(col))
        if bad.size or col.dtype.kind not in "iu":
            rows = bad.tolist() if bad.size else list(range(len(col)))
            raise InputError("source_id must be integers", path=path, rows=rows, column="source_id")
        return Table({"source_id": np.asarray(col, dtype=np.int64)}), UploadKind.SOURCE_ID
    if "ra" in names and "dec" in names:
        out = {}
        for name, low, high in (("ra", 0.0, 360.0), ("dec", -90.0, 90.0)):
            col = table[names[name]]
            values = np.ma.filled(np.ma.asarray(col, dtype=np.float64), np.nan)
            bad = np.flatnonzero(~((values >= low) & (values <= high)))
            if bad.size:
                raise InputError(
                    f"{name} must be degrees in [{low:g}, {high:g}]",
                    path=path,
                    rows=bad.tolist(),
                    column=name,
                )
            out[name] = values
        return Table(out), UploadKind.POSITION
    raise InputError("needs a 'source_id' column or 'ra' and 'dec' columns", path=path)
