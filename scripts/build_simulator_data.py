"""Build the simulator's package data from GaiaXPy, kcorrect and astropy.

Writes, under src/xpz/data/:

* sim_instrument.npz  SED -> DR3 coefficient projection, Gaia G/BP/RP synthetic
                      photometry filters, the noise bases, a Planck18
                      distance-modulus table;
* sim_templates.npz   DR3 coefficients of kcorrect's 5 templates redshifted to
                      z = 0, 0.002, ..., 0.7;
* sim_galaxies.npz    kcorrect fits of its 10,000 SDSS test galaxies.

Run:  python scripts/build_simulator_data.py   (about a minute)
tests/simulate/test_build.py regenerates a slice and compares it with these files.
"""

from __future__ import annotations

import numpy as np

from xpz.io.atomic import atomic_path
from xpz.layout import Band
from xpz.simulate.instrument import INSTRUMENT_FILE, compute_instrument_model
from xpz.simulate.noise import compute_noise_bases
from xpz.simulate.photometry import compute_distance_modulus_table, compute_gaia_photometry
from xpz.simulate.templates import (
    GALAXIES_FILE,
    TEMPLATES_FILE,
    compute_template_coefficients,
    fit_galaxies,
)

#: Redshift grid of the template coefficients (step 0.002 keeps the file < 1 MB).
Z_GRID = np.round(np.arange(0.0, 0.7 + 1e-9, 0.002), 6)


def _save(path, **arrays) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


def main() -> None:
    model = compute_instrument_model()
    photometry = compute_gaia_photometry()
    noise = compute_noise_bases()
    log_z, distmod = compute_distance_modulus_table()
    _save(
        INSTRUMENT_FILE,
        wavelength=model.wavelength,
        projection_bp=model.projection[Band.BP].astype(np.float32),
        projection_rp=model.projection[Band.RP].astype(np.float32),
        phot_bp=photometry.bp_filters,
        phot_rp=photometry.rp_filters,
        phot_zero_points=photometry.zero_points,
        noise_design_bp=noise.design[Band.BP].astype(np.float32),
        noise_design_rp=noise.design[Band.RP].astype(np.float32),
        noise_fit_bp=noise.fit[Band.BP].astype(np.float32),
        noise_fit_rp=noise.fit[Band.RP].astype(np.float32),
        distmod_log_z=log_z,
        distmod=distmod,
    )
    templates = compute_template_coefficients(Z_GRID, model)
    _save(
        TEMPLATES_FILE,
        z=templates.z,
        bp=templates.bp.astype(np.float32),
        rp=templates.rp.astype(np.float32),
    )
    fits = fit_galaxies()
    _save(GALAXIES_FILE, z=fits.z, coeffs=fits.coeffs, r_mag=fits.r_mag)


if __name__ == "__main__":
    main()
