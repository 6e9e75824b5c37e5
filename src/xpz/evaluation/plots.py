"""The dissertation's figures (9-11, 13-18) and calibration plots, for any predictions.

Every function takes plain arrays (or a table of named columns), builds a fresh
:class:`matplotlib.figure.Figure` without touching pyplot's global state, and
returns it; :func:`save_figure` writes it as PNG atomically.  Figures are built
with LaTeX text rendering off, whatever GaiaXPy did to ``rcParams``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import ParamSpec, Protocol

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from xpz.evaluation.binned import bin_index
from xpz.io.atomic import atomic_path
from xpz.layout import N_BP, Z_MAX, Z_MIN, Z_RANGE, default_layout

__all__ = [
    "MEAN_SPECTRA_EDGES",
    "plot_coverage",
    "plot_loss_curves",
    "plot_mae_curves",
    "plot_mean_spectra_by_z",
    "plot_per_bin_errors",
    "plot_pit_histogram",
    "plot_redshift_distribution",
    "plot_spectrum",
    "plot_true_vs_pred_2d",
    "plot_true_vs_pred_hist",
    "save_figure",
]

#: Redshift ranges of the dissertation's Fig. 11 (the last one closed).
MEAN_SPECTRA_EDGES = tuple(np.round(np.linspace(Z_MIN, Z_MAX, 7), 10).tolist())
_SIZE = (7.0, 4.5)
_TRUE_COLOUR, _PRED_COLOUR = "tab:blue", "#d8c49a"  # Fig. 17: blue truth, beige predictions

P = ParamSpec("P")


class Columns(Protocol):
    """Anything with named columns: a dict of arrays, an astropy Table, a pandas DataFrame."""

    def __getitem__(self, name: str, /) -> ArrayLike: ...


def _plain_text(func: Callable[P, Figure]) -> Callable[P, Figure]:
    """Build the figure with LaTeX rendering off."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with matplotlib.rc_context({"text.usetex": False}):
            return func(*args, **kwargs)

    return wrapper


def save_figure(fig: Figure, path: str | PathLike[str], dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically; returns the path."""
    target = Path(path)
    with matplotlib.rc_context({"text.usetex": False}), atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return target


def _redshift_bins(bin_width: float, z_range: tuple[float, float]) -> list[float]:
    if bin_width <= 0 or z_range[1] <= z_range[0]:
        raise ValueError(
            f"need bin_width > 0 and an increasing z_range, got {bin_width}, {z_range}"
        )
    n = max(1, round((z_range[1] - z_range[0]) / bin_width))
    return np.linspace(z_range[0], z_range[1], n + 1).tolist()


@_plain_text
def plot_redshift_distribution(
    z: ArrayLike, bin_width: float = 0.01, z_range: tuple[float, float] = Z_RANGE
) -> Figure:
    """Fig. 9: number of galaxies per redshift bin (0.01 wide by default)."""
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.hist(np.asarray(z, float), bins=_redshift_bins(bin_width, z_range), color=_TRUE_COLOUR)
    ax.set(
        xlabel="redshift z",
        ylabel=f"galaxies per {bin_width:g} in z",
        title="Redshift distribution",
    )
    return fig


@_plain_text
def plot_spectrum(
    flux: ArrayLike,
    *,
    flux_error: ArrayLike | None = None,
    wavelength: ArrayLike | None = None,
    title: str = "XP spectrum",
) -> Figure:
    """Fig. 10: one 186-pixel spectrum (e-/s) against wavelength (nm), BP and RP coloured.

    ``flux_error`` (1 sigma) is drawn as a band; ``wavelength`` defaults to the
    XP layout's.  A dashed line marks the BP/RP junction.
    """
    f = np.asarray(flux, float)
    wl = default_layout().wavelength if wavelength is None else np.asarray(wavelength, float)
    if f.shape != wl.shape or f.ndim != 1:
        raise ValueError(f"flux {f.shape} and wavelength {wl.shape} must be equal 1-D shapes")
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for name, band, colour in (
        ("BP", slice(0, N_BP), "tab:blue"),
        ("RP", slice(N_BP, None), "tab:red"),
    ):
        ax.plot(wl[band], f[band], color=colour, label=name)
        if flux_error is not None:
            e = np.asarray(flux_error, float)[band]
            ax.fill_between(wl[band], f[band] - e, f[band] + e, color=colour, alpha=0.25, lw=0)
    ax.axvline(0.5 * (wl[N_BP - 1] + wl[N_BP]), color="grey", ls="--", lw=1)
    ax.set(xlabel="wavelength [nm]", ylabel="flux [e-/s]", title=title)
    ax.legend()
    return fig


def _column_mean(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean of each column over its finite values (NaN where none are)."""
    finite = np.isfinite(rows)
    total = np.where(finite, rows, 0.0).sum(axis=0)
    count = finite.sum(axis=0)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


@_plain_text
def plot_mean_spectra_by_z(
    flux: ArrayLike,
    z: ArrayLike,
    *,
    wavelength: ArrayLike | None = None,
    edges: Sequence[float] = MEAN_SPECTRA_EDGES,
    max_per_range: int = 1000,
    seed: int = 0,
) -> Figure:
    """Fig. 11: mean flux of up to ``max_per_range`` galaxies per redshift range.

    Ranges are ``[edges[i], edges[i+1])``, the last one closed; galaxies are drawn
    at random (``seed``) when a range has more.  Empty ranges are left out.
    """
    f = np.asarray(flux, float)
    wl = default_layout().wavelength if wavelength is None else np.asarray(wavelength, float)
    index = bin_index(z, edges)
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for b in range(len(edges) - 1):
        members = np.flatnonzero(index == b)
        if members.size == 0:
            continue
        if members.size > max_per_range:
            members = rng.choice(members, size=max_per_range, replace=False)
        label = f"{edges[b]:.1f} <= z < {edges[b + 1]:.1f} ({members.size})"
        ax.plot(wl, _column_mean(f[members]), label=label)
    ax.set(xlabel="wavelength [nm]", ylabel="mean flux [e-/s]", title="Mean spectra by redshift")
    ax.legend(fontsize="small")
    return fig


def _plot_history(history: Columns, metric: str, ylabel: str, title: str) -> Figure:
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    epoch = np.asarray(history["epoch"], float)
    for split, style in (("train", "-"), ("val", "--")):
        ax.plot(
            epoch,
            np.asarray(history[f"{split}_{metric}"], float),
            style,
            marker="o",
            ms=3,
            label=split,
        )
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend()
    return fig


@_plain_text
def plot_loss_curves(history: Columns) -> Figure:
    """Figs. 13-14: training and validation loss per epoch (columns epoch, train_loss, val_loss)."""
    return _plot_history(history, "loss", "loss", "Training and validation loss")


@_plain_text
def plot_mae_curves(history: Columns) -> Figure:
    """Fig. 15: training and validation MAE per epoch (columns epoch, train_mae, val_mae)."""
    return _plot_history(history, "mae", "mean absolute error", "Training and validation MAE")


@_plain_text
def plot_per_bin_errors(table: Columns, *, dissertation: Columns | None = None) -> Figure:
    """Fig. 16: mean error (prediction - truth) per bin with +-1 std error bars.

    ``table`` has columns ``z_lo``, ``z_hi``, ``mean_error``, ``std`` (as made by
    :func:`xpz.evaluation.binned.per_bin_table`); ``dissertation`` (e.g.
    :func:`xpz.reference.dissertation_per_bin`) is drawn beside it, shifted a little.
    """
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    series = [("this model", table, 0.0, "tab:blue")]
    if dissertation is not None:
        series.append(("dissertation (Table 3)", dissertation, 0.006, "tab:grey"))
    for label, t, shift, colour in series:
        centre = 0.5 * (np.asarray(t["z_lo"], float) + np.asarray(t["z_hi"], float))
        ax.errorbar(
            centre + shift,
            np.asarray(t["mean_error"], float),
            yerr=np.asarray(t["std"], float),
            fmt="o",
            capsize=3,
            color=colour,
            label=label,
        )
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set(
        xlabel="true redshift", ylabel="mean error (pred - true)", title="Error per redshift bin"
    )
    ax.legend()
    return fig


@_plain_text
def plot_per_magnitude(table: Columns) -> Figure:
    """Robust scatter and catastrophic-outlier rate per G-magnitude bin.

    ``table`` is :func:`xpz.evaluation.binned.per_magnitude_table`'s: each bin is
    drawn at its centre (an open end half a magnitude beyond its finite edge).
    """
    lo = np.asarray(table["g_lo"], float)
    hi = np.asarray(table["g_hi"], float)
    centre = np.where(np.isfinite(lo) & np.isfinite(hi), 0.5 * (lo + hi), np.nan)
    centre = np.where(np.isfinite(lo), centre, hi - 0.5)
    centre = np.where(np.isfinite(hi), centre, lo + 0.5)
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for column, label, marker in (
        ("sigma_nmad", "sigma_NMAD", "o"),
        ("sigma_iqr", "sigma_IQR", "s"),
        ("outlier_rate", "outlier rate (SRD)", "^"),
    ):
        ax.plot(centre, np.asarray(table[column], float), marker=marker, label=label)
    ax.set(xlabel="G (mag)", ylabel="value", title="Errors per G-magnitude bin", yscale="log")
    ax.legend()
    return fig


@_plain_text
def plot_true_vs_pred_hist(
    z_true: ArrayLike,
    z_pred: ArrayLike,
    bin_width: float = 0.01,
    z_range: tuple[float, float] = Z_RANGE,
) -> Figure:
    """Fig. 17: overlaid histograms of true (blue) and predicted (beige) redshifts."""
    bins = _redshift_bins(bin_width, z_range)
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.hist(np.asarray(z_true, float), bins=bins, color=_TRUE_COLOUR, label="true")
    ax.hist(np.asarray(z_pred, float), bins=bins, color=_PRED_COLOUR, alpha=0.7, label="predicted")
    ax.set(xlabel="redshift z", ylabel="galaxies", title="True and predicted redshifts")
    ax.legend()
    return fig


@_plain_text
def plot_true_vs_pred_2d(
    z_true: ArrayLike,
    z_pred: ArrayLike,
    bins: int = 120,
    z_range: tuple[float, float] = Z_RANGE,
    *,
    xlabel: str = "true redshift",
    ylabel: str = "predicted redshift",
) -> Figure:
    """Fig. 18: 2-D histogram of predicted against true redshift, log colour scale, 1:1 line.

    ``xlabel`` / ``ylabel`` rename the axes (``xpz compare`` puts UGC against xpz redshifts).
    """
    fig = Figure(figsize=(6.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    *_, image = ax.hist2d(
        np.asarray(z_true, float),
        np.asarray(z_pred, float),
        bins=bins,
        range=[z_range, z_range],
        norm=LogNorm(),
        cmin=1,
        cmap="turbo",
    )
    ax.plot(z_range, z_range, color="black", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, aspect="equal")
    fig.colorbar(image, ax=ax, label="galaxies")
    return fig


@_plain_text
def plot_pit_histogram(pit_values: ArrayLike, n_bins: int = 20) -> Figure:
    """PIT histogram (density) with the uniform expectation of a calibrated model."""
    from xpz.evaluation.calibration import pit_histogram

    density, edges = pit_histogram(pit_values, n_bins)
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.stairs(density, edges, fill=True, alpha=0.7, label="PIT")
    ax.axhline(1.0, color="black", ls="--", lw=1, label="calibrated")
    ax.set(xlabel="PIT = CDF(z_true)", ylabel="density", xlim=(0, 1), title="PIT histogram")
    ax.legend()
    return fig


@_plain_text
def plot_coverage(curves: Mapping[str, tuple[ArrayLike, ArrayLike]]) -> Figure:
    """Observed against nominal coverage of central intervals, one line per entry.

    ``curves`` maps a label (e.g. ``"PDF"``, ``"quantiles"``) to
    ``(nominal_levels, observed_coverage)``.  Points below the diagonal mean
    over-confident intervals.
    """
    fig = Figure(figsize=(5.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="black", ls="--", lw=1, label="calibrated")
    for label, (nominal, observed) in curves.items():
        ax.plot(np.asarray(nominal, float), np.asarray(observed, float), marker="o", label=label)
    ax.set(xlabel="nominal coverage", ylabel="observed coverage", xlim=(0, 1), ylim=(0, 1))
    ax.set(aspect="equal", title="Interval coverage")
    ax.legend()
    return fig
