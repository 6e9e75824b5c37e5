"""Benchmark: XP_CONTINUOUS -> 186-pixel spectra, xpz versus ``gaiaxpy.convert``.

Both convert the same synthetic sources (:func:`xpz.simulate.xp_archive.xp_archive_frame`:
random coefficients with a realistic fall-off, random positive-definite
correlation matrices), given as a pandas DataFrame with the archive's columns.  GaiaXPy samples both bands on one grid
per call, so it gets the union of the layout's BP and RP positions in a single
call (the cheapest way to obtain both bands with it).  Timings include reading
the DataFrame (xpz: :func:`read_xp_continuous`; GaiaXPy: its input reader) and
are the best of ``--repeat`` runs, as the machine may be shared.  xpz is timed
twice: with flux errors (the full covariance, in float64) and with
``errors=False`` (fluxes only, what ``xpz predict`` does for a model that reads
no errors; fluxes bit-identical), beside reading the table alone.

It also times the one step no exact method can skip: the pixel variances
``var_p = sum_k c_k G_kp`` over the 1,485 coefficient pairs (plus 55 squares)
of each band's covariance, a matrix product of (N x 1540) by (1540 x P) per band,
with the pair covariances ``c_k`` already formed, the one copy of the
correlation cells out of the DataFrame that any converter makes, and one
elementwise pass forming ``c_k``.  Their sum bounds from above the speed-up any
NumPy implementation can reach, in float64 (what xpz uses) and in float32.

Run::

    .venv/bin/python benchmarks/xp_conversion.py --n 10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xpz.io.xp_continuous import read_xp_continuous
from xpz.layout import Band, default_layout
from xpz.simulate.xp_archive import xp_archive_frame
from xpz.xp import xp_to_spectra
from xpz.xp.basis import N_COEFFICIENTS, N_CORRELATIONS, pixel_design_matrices


def best_of(repeat: int, function, *args):
    """(result, shortest wall time in s) of ``repeat`` calls: the least disturbed by other load."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return result, min(times)


def xpz_convert(frame):
    return xp_to_spectra(read_xp_continuous(frame))


def xpz_convert_fluxes(frame):
    return xp_to_spectra(read_xp_continuous(frame), errors=False)


def gaiaxpy_convert(frame, sampling: np.ndarray):
    from gaiaxpy import convert

    out, _ = convert(frame, sampling=sampling, with_correlation=False, save_file=False)
    return out


def gaiaxpy_on_layout(out, sampling: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GaiaXPy's (flux, flux_error) picked at the layout's 186 pixels."""
    layout = default_layout()
    picked = []
    for column in ("flux", "flux_error"):
        bands = []
        for band, pwl in (("BP", layout.bp_pwl), ("RP", layout.rp_pwl)):
            values = np.stack(out.loc[out["xp"] == band, column].to_numpy())
            bands.append(values[:, np.searchsorted(sampling, pwl)])
        picked.append(layout.truncate(*bands))
    return picked[0], picked[1]


def variance_product_seconds(n: int, repeat: int, dtype: type) -> float:
    """Best time of the pixel-variance matrix products of both bands for ``n`` sources."""
    rng = np.random.default_rng(1)
    matrices = pixel_design_matrices(default_layout())
    rows, cols = np.tril_indices(N_COEFFICIENTS)  # 1,540 pairs: squares and products
    operands = []
    for band in Band:
        design = matrices[band]
        pair_table = (design[rows] * design[cols]).T.astype(dtype)  # (P, 1540)
        # one source per column: the faster of the two layouts on this machine
        operands.append((pair_table, rng.normal(size=(rows.size, n)).astype(dtype)))
    _, seconds = best_of(repeat, lambda: [g @ c for g, c in operands])
    return seconds


def pair_pass_seconds(n: int, repeat: int, dtype: type) -> float:
    """Best time of one elementwise pass forming ``r_ij * (e_i e_j)`` for both bands.

    The float32 correlations, streamed from memory, times error products already
    in cache, written in ``dtype`` ``chunk`` sources at a time: less work than
    any NumPy implementation needs to form the pair covariances.
    """
    rng = np.random.default_rng(2)
    correlations = rng.uniform(-1, 1, (n, N_CORRELATIONS)).astype(np.float32)
    chunk = 256  # sources per pass; the products and the output stay in cache
    products = rng.uniform(0, 1, (chunk, N_CORRELATIONS)).astype(dtype)
    out = np.empty((chunk, N_CORRELATIONS), dtype)

    def passes() -> None:
        for _ in Band:
            for start in range(0, n, chunk):
                block = correlations[start : start + chunk]
                np.multiply(block, products[: len(block)], out=out[: len(block)])

    _, seconds = best_of(repeat, passes)
    return seconds


def correlation_read_seconds(frame, repeat: int) -> float:
    """Best time to copy both bands' correlation cells into arrays once (no checks, no cast).

    Any converter must read these 2 x 1,485 values per source at least once.
    """
    cells = [list(frame[f"{band}_coefficient_correlations"]) for band in ("bp", "rp")]
    _, seconds = best_of(repeat, lambda: [np.concatenate(c) for c in cells])
    return seconds


def float32_error_drift(frame) -> float:
    """Largest relative change of the flux errors when the pair product runs in float32.

    The pair covariances ``e_i e_j r_ij`` and the pair table are rounded to
    float32 and multiplied there (the diagonal stays float64); compared with
    xpz's float64 errors on the same sources.
    """
    xp = read_xp_continuous(frame)
    matrices = pixel_design_matrices(default_layout())
    rows, cols = np.tril_indices(N_COEFFICIENTS, k=-1)  # the archive's pair order
    worst = 0.0
    for band in Band:
        design, solution = matrices[band], xp.band(band)
        e = solution.coefficient_errors.astype(np.float64)
        pairs = (solution.coefficient_correlations * e[:, rows] * e[:, cols]).astype(np.float32)
        table = (2.0 * design[rows] * design[cols]).astype(np.float32)
        variance = (e**2) @ design**2 + (pairs @ table).astype(np.float64)
        reference = _band_errors(xp, band)
        drift = np.abs(np.sqrt(variance) - reference) / reference  # NaN for a missing band
        worst = max(worst, float(np.nanmax(drift)))
    return worst


def _band_errors(xp, band: Band) -> np.ndarray:
    """xpz's float64 flux errors of one band (before the cast to float32 of ``Spectra``)."""
    from xpz.xp.sampling import _pixel_errors

    return _pixel_errors(xp.band(band), pixel_design_matrices(default_layout())[band], 256)


def _same(fluxes, spectra) -> bool:
    """True when the fluxes and flags without errors equal those with errors, bit for bit."""
    return fluxes.flux_error is None and (
        fluxes.flux.tobytes() == spectra.flux.tobytes()
        and np.array_equal(fluxes.flag, spectra.flag)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of sources (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each, best kept")
    parser.add_argument(
        "--archive-file",
        action="append",
        default=[],
        metavar="PATH",
        help="an XP_CONTINUOUS file of real archive spectra (e.g. GaiaXPy's"
        " tests/files/xp_continuous/*.csv) on which to measure the float32 drift too;"
        " may be repeated",
    )
    args = parser.parse_args()

    frame = xp_archive_frame(args.n, args.seed)
    layout = default_layout()
    sampling = np.sort(np.concatenate([layout.bp_pwl, layout.rp_pwl]))
    spectra, xpz_seconds = best_of(args.repeat, xpz_convert, frame)
    fluxes, fluxes_seconds = best_of(args.repeat, xpz_convert_fluxes, frame)
    _, read_seconds = best_of(args.repeat, read_xp_continuous, frame)
    out, gaiaxpy_seconds = best_of(args.repeat, gaiaxpy_convert, frame, sampling)
    flux, flux_error = gaiaxpy_on_layout(out, sampling)

    def worst(ours: np.ndarray, theirs: np.ndarray) -> float:
        return float(np.max(np.abs(ours - theirs) / np.abs(theirs).max(axis=1, keepdims=True)))

    print(f"sources: {args.n} (seed {args.seed}), best of {args.repeat} runs each")
    print(f"xpz     : {xpz_seconds:8.3f} s  {args.n / xpz_seconds:12.0f} spectra/s")
    print(f"gaiaxpy : {gaiaxpy_seconds:8.3f} s  {args.n / gaiaxpy_seconds:12.0f} spectra/s")
    print(f"speed-up: {gaiaxpy_seconds / xpz_seconds:.0f}x")
    print(
        f"xpz, errors=False: {fluxes_seconds:8.3f} s  {args.n / fluxes_seconds:12.0f} spectra/s"
        f"  ({gaiaxpy_seconds / fluxes_seconds:.0f}x gaiaxpy with errors,"
        f" {xpz_seconds / fluxes_seconds:.1f}x xpz with errors);"
        f" fluxes and flags bit-identical: {_same(fluxes, spectra)}"
    )
    print(f"  of which reading the table (read_xp_continuous) alone: {read_seconds:.3f} s")
    read = correlation_read_seconds(frame, args.repeat)
    print(f"copying the correlation cells once, alone: {read:.3f} s")
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        product = variance_product_seconds(args.n, args.repeat, dtype)
        pass_ = pair_pass_seconds(args.n, args.repeat, dtype)
        floor = read + pass_ + product
        print(
            f"{name}: variance matrix product alone {product:.3f} s"
            f" ({gaiaxpy_seconds / product:.0f}x if it were all), one pass forming the pairs"
            f" {pass_:.3f} s; copy + pass + product {floor:.3f} s:"
            f" at most {gaiaxpy_seconds / floor:.0f}x"
        )
    print(
        f"flux errors with the pair product in float32: max relative drift {float32_error_drift(frame):.1e}"
    )
    for path in args.archive_file:
        n = len(read_xp_continuous(path))
        drift = float32_error_drift(path)
        print(f"  on {path} ({n} archive sources): max relative drift {drift:.1e}")
    print(
        f"max |difference| / row max: flux {worst(spectra.flux, flux):.1e},"
        f" flux_error {worst(spectra.flux_error, flux_error):.1e}"
    )


if __name__ == "__main__":
    main()
