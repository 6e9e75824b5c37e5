"""The knob figures of docs/simulator.md (called by scripts/plot_simulator.py).

Each figure compares the default data with one knob at its shifted value
(``SimulationConfig.shifted``), 3,000 spectra each, seed 0.  With the noise
knobs off the spectra are noiseless (noise_scale 0), so that only the knob shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N = 3000
ZBIN = (0.1, 0.2)


def _median_shape(spectra) -> np.ndarray:
    rows = (spectra.z >= ZBIN[0]) & (spectra.z < ZBIN[1])
    flux = spectra.flux[rows].astype(float)
    return np.median(flux / flux.sum(axis=1, keepdims=True), axis=0)


def _shape_figure(plt, save, knob, plain, shifted, wavelength, note: str) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    a, b = _median_shape(plain), _median_shape(shifted)
    top.plot(wavelength, a, label="default")
    top.plot(wavelength, b, label=f"shifted {knob.value}")
    top.set(ylabel="median flux / sum", title=f"{knob.value}: {note}, {ZBIN[0]} <= z < {ZBIN[1]}")
    top.legend(fontsize=8)
    bottom.plot(wavelength, b / a, color="k")
    bottom.axhline(1.0, color="0.6", lw=0.8)
    bottom.set(xlabel="wavelength (nm)", ylabel="shifted / default")
    save(fig, f"sim_knob_{knob.value}.png")


def knob_figures(plt: Any, save: Any) -> None:
    from xpz.layout import default_layout
    from xpz.simulate import Knob, RedshiftDistribution, SimulationConfig, simulate

    wavelength = default_layout().wavelength
    quiet = SimulationConfig(noise_scale=0.0)
    plain = simulate(N, seed=0, config=quiet)
    notes = {
        Knob.SED_SOURCE: "all SEDs BPZ mixes",
        Knob.INTERNAL_DUST: "internal E(B-V) ~ Exp(mean 0.2)",
        Knob.MW_DUST: "Milky Way E(B-V) median 0.052",
        Knob.BLUR: "blur sigma ~ U(0, 4) pwl",
        Knob.CALIBRATION: "BP/RP scale 0.06, tilt 0.10 (median of many)",
    }
    for knob, note in notes.items():
        shifted = simulate(N, seed=0, config=SimulationConfig.shifted(knob, base=quiet))
        _shape_figure(plt, save, knob, plain, shifted, wavelength, note)
    _calibration_examples(plt, save, plain, quiet, wavelength)
    _blur_example(plt, save, plain, quiet, wavelength)
    _noise_figures(plt, save, wavelength)
    _aperture_figure(plt, save)
    base = dict(
        noise_scale=0.0,
        sed_perturbation=0.0,
        redshift_distribution=RedshiftDistribution.UNIFORM,
        z_range=(0.5, 0.50001),
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, config, title in (
        (axes[0], SimulationConfig(**base), "default: donors of the 40 closest"),
        (axes[1], SimulationConfig.shifted(Knob.HIGH_Z_SEDS, SimulationConfig(**base)), "shifted"),
    ):
        s = simulate(300, seed=0, config=config)
        for row in s.flux[:60]:
            ax.plot(wavelength, row / row.sum(), lw=0.5, alpha=0.6)
        ax.set(xlabel="wavelength (nm)", title=f"z = 0.5, sed_perturbation 0: {title}")
    axes[0].set_ylabel("flux / sum (60 galaxies)")
    save(fig, "sim_knob_high_z_seds.png")


def _calibration_examples(plt, save, plain, quiet, wavelength) -> None:
    from xpz.simulate import Knob, SimulationConfig, simulate

    shifted = simulate(N, seed=0, config=SimulationConfig.shifted(Knob.CALIBRATION, base=quiet))
    fig, ax = plt.subplots(figsize=(7, 4))
    for i in range(12):  # calibration acts after the cut: the same galaxies
        ax.plot(wavelength, shifted.flux[i] / plain.flux[i], lw=0.8)
    ax.set(
        xlabel="wavelength (nm)",
        ylabel="shifted / default flux",
        title="calibration: 12 galaxies, BP/RP scale (sigma 0.06) and tilt (sigma 0.10)",
        ylim=(0.8, 1.2),
    )
    save(fig, "sim_knob_calibration_examples.png")


def _donor_coefficients(index: int, dimming_mag: float = 2.0):
    """BP and RP coefficients (1, 55) of one kcorrect donor at its own z, dimmed by the aperture."""
    from xpz.simulate.templates import galaxies, template_coefficients

    donors = galaxies()
    bp, rp = template_coefficients().at(donors.z[index : index + 1])
    amplitude = donors.coeffs[index : index + 1] * 10 ** (-0.4 * dimming_mag)
    return (
        donors.z[index],
        np.einsum("nt,ntk->nk", amplitude, bp),
        np.einsum("nt,ntk->nk", amplitude, rp),
    )


def _blur_example(plt, save, plain, quiet, wavelength) -> None:
    from xpz.layout import Band
    from xpz.simulate.systematics import blur
    from xpz.xp.basis import pixel_design_matrices

    design = pixel_design_matrices()
    z, bp, rp = _donor_coefficients(100)
    fig, ax = plt.subplots(figsize=(7, 4))
    for sigma in (0.0, 2.0, 4.0):
        width = np.array([sigma])
        flux = np.concatenate(
            [
                blur(bp, Band.BP, width) @ design[Band.BP],
                blur(rp, Band.RP, width) @ design[Band.RP],
            ],
            axis=1,
        )
        ax.plot(wavelength, flux[0], label=f"blur sigma {sigma:g} pwl")
    ax.set(
        xlabel="wavelength (nm)",
        ylabel="flux (e-/s)",
        title=f"blur: one noiseless SDSS donor galaxy, z = {z:.3f}",
    )
    ax.legend()
    save(fig, "sim_knob_blur_example.png")


def _noise_figures(plt, save, wavelength) -> None:
    from xpz.layout import Band
    from xpz.simulate import Knob, SimulationConfig, simulate
    from xpz.simulate.noise import NoiseModel, add_noise
    from xpz.xp.basis import pixel_design_matrices

    plain = simulate(N, seed=0)

    design = pixel_design_matrices()[Band.RP].astype(np.float32)
    _, _, rp = _donor_coefficients(100)
    copies = np.repeat(rp, 2000, axis=0).astype(np.float32)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, is_white, label in ((axes[1], False, "correlated"), (axes[2], True, "white")):
        mask = np.full(len(copies), is_white)
        rng = np.random.default_rng(0)
        noisy, error = add_noise(copies, Band.RP, design, NoiseModel(), 1.0, rng, white=mask)
        corr = np.corrcoef((noisy - copies).T.astype(float))
        image = ax.imshow(np.abs(corr), vmin=0, vmax=1, cmap="viridis")
        ax.set(title=f"{label}: |corr| of the 55 RP coefficients' noise", xlabel="coefficient")
        axes[0].plot(wavelength[80:], error[0], label=label)
    axes[0].plot(wavelength[80:], (rp @ design)[0] / 20, "k:", label="signal / 20")
    axes[0].set(xlabel="wavelength (nm)", ylabel="pixel error (e-/s)", title="one galaxy, RP")
    axes[0].legend(fontsize=8)
    fig.colorbar(image, ax=axes[2])
    save(fig, "sim_knob_noise_family.png")
    wide = simulate(N, seed=0, config=SimulationConfig.shifted(Knob.NOISE_MULTIPLIER))
    fig, ax = plt.subplots(figsize=(7, 4))
    for s, label in ((plain, "default"), (wide, "noise_multiplier_sigma 0.6")):
        ratio = np.median(s.flux_error / plain.flux_error, axis=1)
        ax.hist(np.log(ratio), bins=60, range=(-2.5, 2.5), histtype="step", label=label)
    ax.set(
        xlabel="ln(error / default error), per galaxy", ylabel="galaxies", title="noise multiplier"
    )
    ax.legend()
    save(fig, "sim_knob_noise_multiplier.png")


def _aperture_figure(plt, save) -> None:
    from xpz.simulate import Knob, SimulationConfig, simulate

    fig, ax = plt.subplots(figsize=(7, 4))
    for config, label in (
        (SimulationConfig(), "default: aperture 2.0 +- 0.4 mag"),
        (
            SimulationConfig.randomised(exclude=[k for k in Knob if k is not Knob.APERTURE]),
            "randomised: 2.0 +- 0.6",
        ),
        (SimulationConfig.shifted(Knob.APERTURE), "shifted: 2.5 +- 0.8"),
    ):
        g = simulate(N, seed=0, config=config).phot_g_mean_mag
        ax.hist(g, bins=np.arange(12, 20.8, 0.2), histtype="step", label=label)
    ax.set(
        xlabel="G (mag)", ylabel="galaxies per 0.2 mag", title="aperture term: the G distribution"
    )
    ax.legend(fontsize=8)
    save(fig, "sim_knob_aperture.png")
