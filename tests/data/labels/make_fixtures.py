"""Make the stored archive answers of the ``xpz fetch --labels`` / ``--sdss`` tests (run once).

    python tests/data/labels/make_fixtures.py

Writes, next to this script:

* ``survey.csv`` -- a 40-row redshift catalogue (columns ``objid``, ``ra``,
  ``dec``, ``redshift``, ``zerr``, ``quality``);
* ``crossmatch_answer.xml`` -- the Gaia archive's answer to the cross-match
  query for all of it, as a VOTable (the format astroquery receives): rows 0-33
  have one Gaia source with XP spectra, row 34 none, row 35 two, rows 36 and 37
  the same one, row 38 one without XP spectra; row 39 has z = 0.9 (never uploaded);
* ``sdss_answer.csv`` -- the SkyServer's CSV answer (``#Table1`` line, then
  the header) of the same 40 galaxies, as ``SDSS.query_sql`` parses it.

Positions are random (seeded); Gaia sources lie within 0.8 arcsec of their
catalogue row, and separations are computed from the positions.  The XP_CONTINUOUS
spectra are served by the tests from the real files in ``tests/data/gaia_archive``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

HERE = Path(__file__).parent
N = 40
FIRST_SOURCE = 3_000_000_000_000_000_000


def main() -> None:
    rng = np.random.default_rng(2026)
    ra = rng.uniform(150.0, 154.0, N)
    dec = rng.uniform(1.0, 3.0, N)
    z = np.round(rng.uniform(0.02, 0.55, N), 5)
    z[39] = 0.9
    objid = 1_237_650_000_000_000_000 + np.arange(N, dtype=np.int64) * 1_000_003
    survey = Table(
        {
            "objid": objid,
            "ra": ra,
            "dec": dec,
            "redshift": z,
            "zerr": np.round(rng.uniform(1e-5, 1e-4, N), 7),
            "quality": np.where(np.arange(N) % 2, "A", "B"),
        }
    )
    survey.write(HERE / "survey.csv", format="ascii.csv", overwrite=True)

    rows, sources, has_xp = [], [], []
    for row in range(34):
        rows.append(row), sources.append(FIRST_SOURCE + row), has_xp.append(True)
    rows += [35, 35, 36, 37, 38]
    sources += [FIRST_SOURCE + 35, FIRST_SOURCE + 135, FIRST_SOURCE + 36, FIRST_SOURCE + 36]
    sources += [FIRST_SOURCE + 38]
    has_xp += [True, True, True, True, False]
    rows_a = np.array(rows)
    offset = rng.uniform(0.1, 0.8, len(rows_a)) / 3600.0
    angle = rng.uniform(0, 2 * np.pi, len(rows_a))
    s_ra = ra[rows_a] + offset * np.cos(angle) / np.cos(np.radians(dec[rows_a]))
    s_dec = dec[rows_a] + offset * np.sin(angle)
    separation = (
        SkyCoord(ra[rows_a], dec[rows_a], unit="deg")
        .separation(SkyCoord(s_ra, s_dec, unit="deg"))
        .arcsec
    )
    answer = Table(
        {
            "xpz_row": rows_a.astype(np.int64),
            "source_id": np.array(sources, dtype=np.int64),
            "has_xp_continuous": np.array(has_xp),
            "phot_g_mean_mag": np.round(rng.uniform(17.0, 20.5, len(rows_a)), 4),
            "separation_arcsec": separation,
        }
    )
    answer.write(HERE / "crossmatch_answer.xml", format="votable", overwrite=True)

    sdss = Table(
        {
            "specobjid": np.array([str(v) for v in 2_000_000_000_000_000_000 + objid], "U20"),
            "ra": ra,
            "dec": dec,
            "z": z,
            "zerr": survey["zerr"],
            "plate": 266 + np.arange(N) // 10,
            "mjd": np.full(N, 51630),
            "fiberid": np.arange(N) % 10 + 1,
        }
    )
    sdss = sdss[sdss["z"] <= 0.6]  # the query's own cut
    sdss["specobjid"][0] = "16000000000000000000"  # above int64, as eBOSS plates give
    lines = ["#Table1", ",".join(sdss.colnames)]
    lines += [",".join(str(row[c]) for c in sdss.colnames) for row in sdss]
    (HERE / "sdss_answer.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
