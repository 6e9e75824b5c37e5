"""Redshifts for catalogues: chunked prediction with flags and provenance.

Two entry points:

* :func:`predict` (Python / Jupyter): a model and spectra in memory
  (:class:`~xpz.spectra.Spectra`, an astropy Table or a pandas DataFrame of
  sampled spectra or of Gaia XP_CONTINUOUS coefficients) -> astropy Table.
* :func:`predict_files` (``xpz predict``): any number of input files streamed
  in chunks of ``chunk_rows`` rows with bounded memory -> one catalogue file,
  written atomically.

Every row gets an ``ood_score`` (:mod:`xpz.models.ood`; NaN for models saved
without OOD statistics) and ``Flag.OUT_OF_DISTRIBUTION`` when it exceeds 1.

Rows are never dropped: a spectrum the model cannot take (a NaN or infinite
flux, a missing band, an all-zero spectrum; :func:`unusable_rows`) is not run,
gets NaN estimates and ``Flag.NO_ESTIMATE``, and its other bits say why; the
other rows are predicted as if it were not there.  Physically implausible
spectra (:func:`implausible_flux`) keep their estimates and get
``Flag.IMPLAUSIBLE_FLUX``.  An error that still arises names the input file
and the row of the whole file; a ``source_id`` shared by two input files of one
catalogue is refused.  The catalogue layout is documented in :mod:`xpz.io.catalog`.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.predict_inputs import file_chunks, input_files, iter_input_spectra, reads_flux_error
from xpz.readahead import read_ahead as read_ahead_chunks
from xpz.spectra import Flag, Spectra

__all__ = [
    "EDGE_MARGIN",
    "MAX_ABS_FLUX",
    "MAX_NEGATIVE_SHARE",
    "PredictSummary",
    "Runtime",
    "flag_predictions",
    "implausible_flux",
    "input_files",
    "iter_input_spectra",
    "open_model",
    "predict",
    "predict_files",
    "predict_spectra",
    "provenance",
    "unusable_rows",
]

#: Predictions within this distance of the model's redshift range edges get Z_AT_EDGE.
EDGE_MARGIN = 0.005
#: A flux beyond this (e-/s in one pixel) is implausible: brighter than any source
#: Gaia observed (the brightest real archive sample in the tests peaks at 4e5, the
#: simulator's galaxies at 3e5).
MAX_ABS_FLUX = 1e10
#: Negative fluxes summing to more than this share of the positive ones are
#: implausible (the simulator's noisiest galaxies reach 0.06).
MAX_NEGATIVE_SHARE = 0.5


class Runtime(enum.Enum):
    """What runs the network."""

    TORCH = "torch"
    #: onnxruntime on the model exported by :func:`xpz.export.export_onnx`.
    ONNX = "onnx"


def open_model(model: Any, runtime: Runtime | str = Runtime.TORCH):
    """A predictor for ``model`` (a model directory, an ``.onnx`` file, or an open one).

    Torch gives a :class:`~xpz.models.modelfile.LoadedModel` (on CUDA when
    present, :func:`xpz.accelerator.torch_device`), ONNX an
    :class:`~xpz.export.OnnxModel`; both offer ``predict(flux, flux_error,
    batch_size)``, ``scaler``, ``z_range``, ``metadata``, ``info`` and ``path``.
    """
    from xpz.accelerator import torch_device
    from xpz.export import OnnxModel
    from xpz.models.modelfile import LoadedModel, load_model

    if isinstance(model, LoadedModel | OnnxModel):
        return model
    if Runtime(runtime) is Runtime.ONNX:
        return OnnxModel(model)
    return load_model(model, device=torch_device())  # CUDA when present


def _z_range(model) -> tuple[float, float]:
    low, high = model.z_range  # the model's own (e.g. XpzNet's (0, z_max))
    return float(low), float(high)


def out_of_distribution(ood_score: NDArray[np.floating]) -> NDArray[np.bool_]:
    """True where ``ood_score`` exceeds the threshold 1 (NaN: a model without OOD statistics).

    >>> out_of_distribution(np.array([0.5, 1.5, np.nan])).tolist()
    [False, True, False]
    """
    from xpz.models.ood import OOD_THRESHOLD

    with np.errstate(invalid="ignore"):
        return np.asarray(ood_score) > OOD_THRESHOLD


def implausible_flux(flux: NDArray[np.floating]) -> NDArray[np.bool_]:
    """True for rows whose finite fluxes no source Gaia observed could have.

    A row is implausible when its positive fluxes sum to nothing (all zero or
    all negative), when its negative fluxes sum to more than
    ``MAX_NEGATIVE_SHARE`` of the positive ones, or when any flux exceeds
    ``MAX_ABS_FLUX`` in absolute value.  Rows with no finite flux are not
    (they are flagged ``NONFINITE_FLUX``).

    >>> implausible_flux(np.array([[5.0, 1.0, -0.1], [-1.0, -2.0, -3.0], [1e30, 1.0, 1.0]])).tolist()
    [False, True, True]
    """
    x = np.asarray(flux)
    finite = np.isfinite(x)
    x = np.where(finite, x, 0)  # the input's dtype; the sums in float64
    positive = np.maximum(x, 0).sum(axis=1, dtype=np.float64)
    negative = positive - x.sum(axis=1, dtype=np.float64)
    implausible = (
        (positive <= 0)
        | (negative > MAX_NEGATIVE_SHARE * positive)
        | (np.abs(x).max(axis=1, initial=0) > MAX_ABS_FLUX)
    )
    return implausible & finite.any(axis=1)


def flag_predictions(
    spectra: Spectra,
    z_pred: NDArray[np.floating],
    z_range: tuple[float, float],
    ood_score: NDArray[np.floating] | None = None,
) -> NDArray[np.uint32]:
    """Input flags plus the prediction bits (:class:`~xpz.spectra.Flag`)."""
    flag = spectra.flag.copy()
    flag[~np.isfinite(spectra.flux).all(axis=1)] |= np.uint32(Flag.NONFINITE_FLUX)
    flag[implausible_flux(spectra.flux)] |= np.uint32(Flag.IMPLAUSIBLE_FLUX)
    if ood_score is not None:
        flag[out_of_distribution(ood_score)] |= np.uint32(Flag.OUT_OF_DISTRIBUTION)
    flag[~np.isfinite(z_pred)] |= np.uint32(Flag.NO_ESTIMATE)
    lo, hi = z_range
    with np.errstate(invalid="ignore"):
        edge = (z_pred <= lo + EDGE_MARGIN) | (z_pred >= hi - EDGE_MARGIN)
    flag[edge] |= np.uint32(Flag.Z_AT_EDGE)
    return flag


def unusable_rows(model, spectra: Spectra, scaled: NDArray[np.floating]) -> NDArray[np.bool_]:
    """True for rows the model cannot take: they get NaN estimates and ``NO_ESTIMATE``.

    A non-finite flux (or flux error, for models that read errors), a missing
    band, an all-zero spectrum, or a scaled input (``scaled``, the scaler's
    output for every row) that is not finite in float32, e.g. a zero norm.
    """
    bad = ~np.isfinite(spectra.flux).all(axis=1)
    bad |= (spectra.flag & np.uint32(Flag.MISSING_BP | Flag.MISSING_RP)) != 0
    bad |= ~(spectra.flux != 0).any(axis=1)
    with np.errstate(all="ignore"):
        bad |= ~np.isfinite(scaled.astype(np.float32)).all(axis=1)
        if reads_flux_error(model):
            if spectra.flux_error is None:
                raise InputError("this model reads flux errors, and the input has none")
            bad |= ~np.isfinite(spectra.flux_error).all(axis=1)
            errors = model.scaler.transform_error(spectra.flux, spectra.flux_error)
            bad |= ~np.isfinite(errors.astype(np.float32)).all(axis=1)
    return bad


def _with_nan_rows(values: NDArray, good: NDArray[np.bool_]) -> NDArray:
    """``values`` of the good rows spread over all rows, NaN in the others."""
    full = np.full((len(good), *values.shape[1:]), np.nan, np.float32)
    full[good] = values
    return full


def predict_spectra(
    model, spectra: Spectra, *, batch_size: int = 1024, keep_pdf: bool = False
) -> tuple[dict[str, NDArray], NDArray[np.uint32]]:
    """Estimates (``z_pred``, ``z_err``, quantiles..., ``ood_score``) and flags for one chunk.

    ``model`` is an open predictor (:func:`open_model`).  ``keep_pdf`` keeps the
    full gridded ``pdf`` (N, K) of distributional models; catalogues hold only
    the summaries.  Rows the model cannot take (:func:`unusable_rows`) are not
    run: their estimates are NaN and their flag has ``NO_ESTIMATE``.
    """
    with np.errstate(all="ignore"):
        scaled = model.scaler.transform(spectra.flux)
    good = ~unusable_rows(model, spectra, scaled)
    errors = None if spectra.flux_error is None else spectra.flux_error[good]
    raw = model.predict(spectra.flux[good], errors, batch_size=batch_size, pdf=keep_pdf)
    raw.setdefault("ood_score", np.full(int(good.sum()), np.nan, np.float32))  # no OOD statistics
    estimates = {name: _with_nan_rows(values, good) for name, values in raw.items()}
    flag = flag_predictions(spectra, estimates["z_pred"], _z_range(model), estimates["ood_score"])
    return estimates, flag


def _as_spectra(data: Any, *, flux_error: bool = True) -> Spectra:
    if isinstance(data, Spectra):
        return data
    from xpz.io.read import read_input

    source = Path(data) if isinstance(data, (str, os.PathLike)) else data
    return read_input(source, flux_error=flux_error)


def predict(
    model: Any, data: Any, *, batch_size: int = 1024, runtime: Runtime | str = Runtime.TORCH
):  # -> astropy.table.Table
    """Redshifts for ``data`` with ``model``, as an astropy Table (the catalogue columns).

    XP_CONTINUOUS input is sampled without flux errors unless the model reads them.

    Parameters
    ----------
    model : path or open model
        An xpz model directory (see :mod:`xpz.models.modelfile`), or an
        ``.onnx`` file with ``runtime="onnx"``.
    data : Spectra, astropy Table, pandas DataFrame or path
        Sampled 186-pixel spectra or Gaia XP_CONTINUOUS rows.
    """
    from xpz.io.catalog import catalog_table

    predictor = open_model(model, runtime)
    spectra = _as_spectra(data, flux_error=reads_flux_error(predictor))
    try:
        estimates, flag = predict_spectra(predictor, spectra, batch_size=batch_size)
    except InputError as err:
        where = data if isinstance(data, (str, os.PathLike)) else "<input>"
        raise located(err, where) from None
    table = catalog_table(
        estimates, spectra.source_id, flag, provenance(predictor, [], Runtime(runtime))
    )
    if spectra.z is not None:
        table["z"] = spectra.z
        table["z"].description = "True (spectroscopic) redshift from the input"
    return table


@dataclass(frozen=True)
class PredictSummary:
    """What :func:`predict_files` did."""

    output: Path
    rows: int
    flagged: dict[str, int]


def provenance(model, inputs: Iterable[Path], runtime: Runtime) -> dict[str, Any]:
    """Catalogue metadata: xpz version, model, its checksum, inputs and runtime."""
    import xpz

    info = model.info
    return {
        "xpz_version": xpz.__version__,
        "model": str(model.path),
        "model_sha256": info["weights"]["sha256"],
        "model_kind": info["model"]["kind"],
        "layout_version": info["layout_version"],
        "input_files": json.dumps([str(p) for p in inputs]),
        "runtime": runtime.value,
    }


#: Columns of xpz's own arrays that an error must not name (they are not in the input).
_INTERNAL_COLUMNS = frozenset({"pdf", "z_true", "z_pred"})


def located(err: InputError, path: str | os.PathLike[str], first_row: int = 0) -> InputError:
    """``err`` naming ``path`` and rows of the whole file (``first_row`` + chunk row).

    An error that already names a file is returned as it is.
    """
    if err.path is not None:
        return err
    rows = None if err.rows is None else [first_row + r for r in err.rows]
    column = None if err.column in _INTERNAL_COLUMNS else err.column
    return InputError(err.problem, path=path, rows=rows, column=column)


def predict_files(
    model: Any,
    inputs: Sequence[str | Path],
    output: str | Path,
    *,
    chunk_rows: int = 20_000,
    input_format: str | None = None,
    output_format: str | None = None,
    batch_size: int = 1024,
    progress: bool = False,
    runtime: Runtime | str = Runtime.TORCH,
    read_ahead: int = 1,
) -> PredictSummary:
    """Predict every row of ``inputs`` into the catalogue ``output`` (see module docs).

    The next ``read_ahead`` chunks (0: none) are read and converted in a thread
    while the network runs on this one (:func:`xpz.readahead.read_ahead`).
    A ``source_id`` repeated within a file or across two files is an
    :class:`~xpz.errors.InputError`; so is any other problem, naming the file
    and its row.  XP_CONTINUOUS input is sampled without flux errors unless the
    model reads them (:func:`~xpz.predict_inputs.reads_flux_error`).
    """
    from tqdm.auto import tqdm

    from xpz.accelerator import one_blas_thread
    from xpz.io.catalog import CatalogWriter

    predictor = open_model(model, runtime)
    files = input_files(inputs)
    bits = [(str(f.name), np.uint32(f.value)) for f in Flag if f.value]
    counts = dict.fromkeys((name for name, _ in bits), 0)
    with (
        CatalogWriter(
            output, output_format, provenance(predictor, files, Runtime(runtime))
        ) as writer,
        tqdm(unit=" spectra", disable=not progress, desc="predict") as bar,
        one_blas_thread(),  # no idle BLAS threads spinning beside the network's
    ):
        chunks = read_ahead_chunks(
            file_chunks(files, chunk_rows, input_format, flux_error=reads_flux_error(predictor)),
            read_ahead,
        )
        for path, first_row, spectra in chunks:
            try:
                estimates, flag = predict_spectra(predictor, spectra, batch_size=batch_size)
            except InputError as err:
                raise located(err, path, first_row) from None
            writer.write(estimates, spectra.source_id, flag)
            for name, bit in bits:
                counts[name] += int(np.count_nonzero(flag & bit))
            bar.update(len(spectra))
    return PredictSummary(Path(output), writer.rows, counts)


def format_summary(summary: PredictSummary) -> str:
    """Human-readable report of a prediction run."""
    lines = [f"wrote {summary.rows} rows to {summary.output}"]
    lines += [f"  flagged {name}: {n}" for name, n in summary.flagged.items() if n]
    return "\n".join(lines)
