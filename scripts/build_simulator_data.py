"""Build the simulator's package data from GaiaXPy, kcorrect and astropy.

Writes, under src/xpz/data/:

* sim_instrument.npz  SED -> DR3 coefficient projection, Gaia G/BP/RP synthetic
                      photometry filters, the noise bases, a Planck18
                      distance-modulus table;
* sim_templates.npz   DR3 coefficients of kcorrect's 5 templates redshifted to
                      z = 0, 0.002, ..., 0.7;
* sim_galaxies.npz    kcorrect fits of its 10,000 SDSS test galaxies;
* sim_templates_bpz.npz  DR3 coefficients of BPZ's 6 CWW+SB templates (desc-bpz)
                      on the same redshift grid;
* sim_dust.npz        the Milky Way extinction curve (F99, R_V = 3.1, dust_extinction).

Run:  python scripts/build_simulator_data.py [--only bpz dust ...]   (about a minute)
It also prints the Milky Way E(B-V) distribution of kcorrect's SDSS galaxies
(the source of xpz.simulate.dust.MW_EBV_LOG_SIGMA).
tests/simulate/test_build.py regenerates a slice and compares it with these files.
"""

from __future__ import annotations

import argparse

import numpy as np

from xpz.io.atomic import atomic_path
from xpz.layout import Band
from xpz.simulate.bpz import BPZ_TEMPLATES, BPZ_TEMPLATES_FILE, compute_bpz_coefficients
from xpz.simulate.dust import DUST_FILE, compute_mw_curve
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


PARTS = ("instrument", "templates", "galaxies", "bpz", "dust")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parts = set(parser.parse_args().only)
    model = compute_instrument_model()
    if "instrument" in parts:
        _instrument(model)
    if "templates" in parts:
        templates = compute_template_coefficients(Z_GRID, model)
        _save(
            TEMPLATES_FILE,
            z=templates.z,
            bp=templates.bp.astype(np.float32),
            rp=templates.rp.astype(np.float32),
        )
    if "galaxies" in parts:
        fits = fit_galaxies()
        _save(GALAXIES_FILE, z=fits.z, coeffs=fits.coeffs, r_mag=fits.r_mag)
    if "bpz" in parts:
        bpz = compute_bpz_coefficients(Z_GRID, model)
        _save(
            BPZ_TEMPLATES_FILE,
            z=bpz.z,
            bp=bpz.bp.astype(np.float32),
            rp=bpz.rp.astype(np.float32),
            names=np.array(BPZ_TEMPLATES),
        )
    if "dust" in parts:
        wavelength, curve = compute_mw_curve()
        _save(DUST_FILE, wavelength=wavelength, mw_a_over_ebv=curve)
        _print_mw_ebv()


def _print_mw_ebv() -> None:
    """Median and sigma of ln E(B-V) of kcorrect's SDSS galaxies (SFD, via A_r / 2.751)."""
    from pathlib import Path

    import kcorrect.kcorrect
    from astropy.io import fits

    path = Path(kcorrect.kcorrect.__file__).parent / "data" / "test" / "gst_tests_small.fits"
    with fits.open(path) as hdul:
        ebv = np.asarray(hdul[1].data["EXTINCTION"][:, 2], dtype=float) / 2.751
    print(
        f"MW E(B-V) of {len(ebv)} SDSS galaxies: median {np.median(ebv):.4f}, "
        f"sigma of ln {np.std(np.log(ebv)):.3f}"
    )


def _instrument(model) -> None:
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


if __name__ == "__main__":
    main()
