"""The default model's peers on benchmarks/robustness.py's test sets.

Beside the mixture-trained ``xpz`` model, on the same training spectra and the
same test sets:

* ``paper``: the dissertation's CNN and recipe (the ``paper`` preset), trained
  through the user's path (:func:`domain_shift.trained_model`) and scored as
  ``xpz predict`` scores it (its OOD flag too; it gives no intervals);
* ``svr`` and ``knn``: the scikit-learn baselines of ``benchmarks/accuracy.py``
  (RBF SVR on at most 20,000 training spectra, distance-weighted 10-NN), fitted
  on the training split of the 63/27/10 split the networks use
  (``split_indices(n, seed=0)``), on per-spectrum L2-normalised flux;
* ``template-kcorrect`` and ``template-bpz``: template fitting
  (:func:`xpz.models.template_fit.fit_templates`, flat prior, default z grid)
  with kcorrect's NMF templates and with BPZ's CWW+SB templates, on the first
  ``n_template`` spectra of every test set (the fit of six templates costs
  about a minute per 5,000 spectra here); their 68%/95% intervals are the
  quantiles of the fitted PDF.

Point estimates without intervals leave the coverage columns empty; only the
networks have an OOD score.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from pathlib import Path

from domain_shift import score, score_estimates, trained_model

from xpz import pdf as zpdf
from xpz.models.baselines import KnnBaseline, SvrBaseline
from xpz.models.template_fit import TemplateSet, fit_templates
from xpz.preprocess import make_scaler
from xpz.recipes import get_preset, xpz_recipe
from xpz.spectra import Spectra
from xpz.split import split_indices

#: Quantile columns of a template fit, as the networks name theirs.
QUANTILES = {"z_q025": 0.025, "z_q16": 0.16, "z_q84": 0.84, "z_q975": 0.975}

Row = tuple[list[str], dict[str, float]]


class Peer(enum.Enum):
    """The rows beside the default model, in table order."""

    PAPER = "paper"
    SVR = "svr"
    KNN = "knn"
    TEMPLATE_KCORRECT = "template-kcorrect"
    TEMPLATE_BPZ = "template-bpz"


#: The template set of each template-fitting peer.
TEMPLATE_SETS = {Peer.TEMPLATE_KCORRECT: TemplateSet.KCORRECT, Peer.TEMPLATE_BPZ: TemplateSet.BPZ}


def template_scores(spectra: Spectra, template_set: TemplateSet) -> dict[str, float]:
    """Score a template fit (flat prior) of ``spectra``: PDF median and quantiles."""
    if spectra.flux_error is None:
        raise ValueError("template fitting needs the spectra's flux errors")
    fit = fit_templates(spectra.flux, spectra.flux_error, template_set=template_set)
    q = zpdf.quantiles(fit.pdf, fit.z_grid, list(QUANTILES.values()))
    quantiles = {name: q[:, i] for i, name in enumerate(QUANTILES)}
    return score_estimates(spectra.require_z(), fit.z_pred, quantiles)


def _baseline(peer: Peer, train: Spectra) -> Callable[[Spectra], dict[str, float]]:
    """Fit the SVR or kNN on ``train``; return its scorer of a test set."""
    scaler = make_scaler(**xpz_recipe(members=1).scaling).fit(train.flux)
    model = SvrBaseline() if peer is Peer.SVR else KnnBaseline()
    model.fit(scaler.transform(train.flux), train.require_z())
    return lambda test: score_estimates(
        test.require_z(), model.predict(scaler.transform(test.flux))
    )


def scorer(
    peer: Peer, spectra_of: Callable[[], Spectra], run_dir: Path, n_template: int
) -> Callable[[Spectra], dict[str, float]]:
    """How ``peer`` scores a test set, after training it on ``spectra_of()`` if it learns."""
    if peer is Peer.PAPER:
        model = trained_model(spectra_of, get_preset("paper"), run_dir)
        return lambda test: score(model, test)
    if peer in TEMPLATE_SETS:
        return lambda test: template_scores(test[:n_template], TEMPLATE_SETS[peer])
    spectra = spectra_of()
    train = spectra[split_indices(len(spectra), seed=0).train]
    return _baseline(peer, train)


def peer_rows(
    peers: list[Peer],
    spectra_of: Callable[[], Spectra],
    tests: Mapping[str, Spectra],
    work: Path,
    n_template: int,
) -> list[Row]:
    """One row per (peer, test set), the peers trained on ``spectra_of()`` where they learn."""
    rows: list[Row] = []
    for peer in peers:
        score_of = scorer(peer, spectra_of, work / f"peer-{peer.value}", n_template)
        for name, test in tests.items():
            rows.append(([peer.value, name], score_of(test)))
            print(f"  {peer.value} on {name}: MAE {rows[-1][1]['mae']:.4f}", flush=True)
    return rows


#: The accuracy columns on which the default model must beat the SVR and kNN.
ACCURACY_COLUMNS = ("mae", "sigma_nmad", "outliers", "worst_bin")


def peer_targets(rows: list[Row], model: str, paper_macs: int, model_macs: int) -> str:
    """Issue #14's in-distribution targets of ``model`` against the peers present in ``rows``."""
    own = {names[0]: values for names, values in rows if names[1] == "in distribution"}
    mine = own[model]
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for baseline in ("svr", "knn"):
        if baseline in own:
            better = [k for k in ACCURACY_COLUMNS if mine[k] < own[baseline][k]]
            lines.append(
                f"| better than {baseline} on {', '.join(ACCURACY_COLUMNS)} | "
                f"{len(better)}/{len(ACCURACY_COLUMNS)} ({', '.join(better) or 'none'}) | "
                f"{len(ACCURACY_COLUMNS)}/{len(ACCURACY_COLUMNS)} | "
                f"{'yes' if len(better) == len(ACCURACY_COLUMNS) else 'no'} |"
            )
    if "paper" in own:
        ratio = mine["mae"] / own["paper"]["mae"]
        lines.append(
            f"| MAE <= 0.4 x paper | {ratio:.3f} | 0.4 | {'yes' if ratio <= 0.4 else 'no'} |"
        )
    macs = model_macs / paper_macs
    lines.append(
        f"| multiply-adds <= 0.15 x paper (all members) | {macs:.3f} | 0.15 | "
        f"{'yes' if macs <= 0.15 else 'no'} |"
    )
    return "\n".join(lines)
