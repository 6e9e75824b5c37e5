"""Each figure builds on small arrays, has the expected content, and saves as PNG."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from astropy.table import Table
from matplotlib.figure import Figure

from xpz.evaluation import binned, plots
from xpz.reference import dissertation_per_bin


@pytest.fixture
def redshifts(rng):
    z_true = rng.uniform(0.0, 0.6, 300)
    return z_true, np.clip(z_true + rng.normal(0, 0.03, z_true.size), 0, 0.6)


@pytest.fixture
def history():
    epoch = np.arange(1, 6)
    return Table(
        {
            "epoch": epoch,
            "train_loss": 1 / epoch,
            "val_loss": 1.1 / epoch,
            "train_mae": 0.1 / epoch,
            "val_mae": 0.11 / epoch,
        }
    )


def test_redshift_distribution_bins_of_001(redshifts):
    fig = plots.plot_redshift_distribution(redshifts[0])
    (ax,) = fig.axes
    assert len(ax.patches) == 60  # 0..0.6 in 0.01 bins
    assert sum(p.get_height() for p in ax.patches) == 300


def test_spectrum_marks_bands_and_error_band(toy_spectra):
    fig = plots.plot_spectrum(toy_spectra.flux[0], flux_error=toy_spectra.flux_error[0])
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines[:2]] == ["BP", "RP"]
    assert len(ax.lines[0].get_xdata()) == 80 and len(ax.lines[1].get_xdata()) == 106
    assert len(ax.collections) == 2  # one error band per band
    assert ax.get_xlabel() == "wavelength [nm]"
    with pytest.raises(ValueError):
        plots.plot_spectrum(np.ones(10))


def test_mean_spectra_one_line_per_non_empty_range(toy_spectra):
    z = np.array([0.05] * 3 + [0.15] * 7 + [0.6] * 10)
    fig = plots.plot_mean_spectra_by_z(toy_spectra.flux, z, max_per_range=3)
    (ax,) = fig.axes
    assert len(ax.lines) == 3
    assert ax.lines[2].get_label().startswith("0.5 <= z < 0.6 (3)")
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), toy_spectra.flux[:3].mean(axis=0), rtol=1e-5
    )


def test_history_curves(history):
    for func in (plots.plot_loss_curves, plots.plot_mae_curves):
        (ax,) = func(history).axes
        assert [line.get_label() for line in ax.lines] == ["train", "val"]
    (ax,) = plots.plot_mae_curves(history).axes
    np.testing.assert_allclose(ax.lines[1].get_ydata(), history["val_mae"])


def test_per_bin_errors_with_and_without_dissertation(redshifts):
    table = binned.per_bin_table(*redshifts)
    (ax,) = plots.plot_per_bin_errors(table).axes
    assert len(ax.containers) == 1
    (ax,) = plots.plot_per_bin_errors(table, dissertation=dissertation_per_bin()).axes
    assert len(ax.containers) == 2


def test_true_vs_pred_figures(redshifts):
    (ax,) = plots.plot_true_vs_pred_hist(*redshifts).axes
    assert len(ax.patches) == 120  # two histograms of 60 bins
    fig = plots.plot_true_vs_pred_2d(*redshifts, bins=30)
    assert len(fig.axes) == 2  # the histogram and its colour bar
    image = fig.axes[0].collections[0]
    assert isinstance(image.norm, matplotlib.colors.LogNorm)
    assert np.nansum(image.get_array()) == 300


def test_calibration_figures(rng):
    (ax,) = plots.plot_pit_histogram(rng.uniform(size=200), n_bins=10).axes
    assert len(ax.patches) == 1 and len(ax.lines) == 1
    fig = plots.plot_coverage(
        {"PDF": ([0.5, 0.68, 0.95], [0.4, 0.6, 0.9]), "quantiles": ([0.68], [0.6])}
    )
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["calibrated", "PDF", "quantiles"]


def test_usetex_is_off_even_if_gaiaxpy_turned_it_on(redshifts, tmp_path):
    with matplotlib.rc_context({"text.usetex": True}):
        fig = plots.plot_redshift_distribution(redshifts[0])
        assert not fig.axes[0].xaxis.label.get_usetex()
        plots.save_figure(fig, tmp_path / "z.png")


def test_save_figure_writes_png_atomically(redshifts, tmp_path):
    fig = plots.plot_true_vs_pred_hist(*redshifts)
    path = plots.save_figure(fig, tmp_path / "sub" / "hist.png")
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["hist.png"]
