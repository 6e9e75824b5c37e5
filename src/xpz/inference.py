"""Redshifts for catalogues: chunked prediction with flags and provenance.

Two entry points:

* :func:`predict` (Python / Jupyter): a model and spectra in memory
  (:class:`~xpz.spectra.Spectra`, an astropy Table or a pandas DataFrame of
  sampled spectra or of Gaia XP_CONTINUOUS coefficients) -> astropy Table.
* :func:`predict_files` (``xpz predict``): any number of input files streamed
  in chunks of ``chunk_rows`` rows with bounded memory -> one catalogue file,
  written atomically.

Rows are never dropped: a spectrum that cannot be scaled (NaN fluxes, a
missing band) gets NaN estimates and its flag bits say why.  The catalogue
layout is documented in :mod:`xpz.io.catalog`.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.spectra import Flag, Spectra

__all__ = [
    "EDGE_MARGIN",
    "RANGE_MARGIN",
    "PredictSummary",
    "Runtime",
    "flag_predictions",
    "input_files",
    "iter_input_spectra",
    "open_model",
    "predict",
    "predict_files",
    "predict_spectra",
    "provenance",
]

#: A scaled pixel counts as out of range beyond [0 - RANGE_MARGIN, 1 + RANGE_MARGIN].
RANGE_MARGIN = 0.25
#: Share of out-of-range pixels above which a spectrum is flagged OUTSIDE_TRAINING_RANGE.
RANGE_MAX_FRACTION = 0.05
#: Predictions within this distance of the model's redshift range edges get Z_AT_EDGE.
EDGE_MARGIN = 0.005


class Runtime(enum.Enum):
    """What runs the network."""

    TORCH = "torch"
    #: onnxruntime on the model exported by :func:`xpz.export.export_onnx`.
    ONNX = "onnx"


def open_model(model: Any, runtime: Runtime | str = Runtime.TORCH):
    """A predictor for ``model`` (a model directory, an ``.onnx`` file, or an open one).

    Torch gives a :class:`~xpz.models.modelfile.LoadedModel`, ONNX an
    :class:`~xpz.export.OnnxModel`; both offer ``predict(flux, flux_error,
    batch_size)``, ``scaler``, ``z_range``, ``metadata``, ``info`` and ``path``.
    """
    from xpz.export import OnnxModel
    from xpz.models.modelfile import LoadedModel, load_model

    if isinstance(model, LoadedModel | OnnxModel):
        return model
    return OnnxModel(model) if Runtime(runtime) is Runtime.ONNX else load_model(model)


def _z_range(model) -> tuple[float, float]:
    low, high = model.z_range  # the model's own (e.g. XpzNet's (0, z_max))
    return float(low), float(high)


def outside_training_range(scaled: NDArray[np.floating]) -> NDArray[np.bool_]:
    """True for rows whose scaled fluxes leave the training range on many pixels.

    ``scaled`` are min-max scaled fluxes (N, pixels): the training set spans
    [0, 1] per pixel.  A row is flagged when more than ``RANGE_MAX_FRACTION``
    of its finite pixels lie outside [-RANGE_MARGIN, 1 + RANGE_MARGIN].

    >>> outside_training_range(np.array([[0.5] * 20, [0.5] * 18 + [3.0, 3.0]])).tolist()
    [False, True]
    """
    finite = np.isfinite(scaled)
    out = finite & ((scaled < -RANGE_MARGIN) | (scaled > 1 + RANGE_MARGIN))
    n_finite = np.maximum(finite.sum(axis=1), 1)
    return out.sum(axis=1) / n_finite > RANGE_MAX_FRACTION


def flag_predictions(
    spectra: Spectra,
    z_pred: NDArray[np.floating],
    z_range: tuple[float, float],
    scaled: NDArray[np.floating] | None,
) -> NDArray[np.uint32]:
    """Input flags plus the prediction bits (:class:`~xpz.spectra.Flag`)."""
    flag = spectra.flag.copy()
    flag[~np.isfinite(spectra.flux).all(axis=1)] |= np.uint32(Flag.NONFINITE_FLUX)
    if scaled is not None:
        flag[outside_training_range(scaled)] |= np.uint32(Flag.OUTSIDE_TRAINING_RANGE)
    lo, hi = z_range
    with np.errstate(invalid="ignore"):
        edge = (z_pred <= lo + EDGE_MARGIN) | (z_pred >= hi - EDGE_MARGIN)
    flag[edge] |= np.uint32(Flag.Z_AT_EDGE)
    return flag


def predict_spectra(
    model, spectra: Spectra, *, batch_size: int = 1024, keep_pdf: bool = False
) -> tuple[dict[str, NDArray], NDArray[np.uint32]]:
    """Estimates (``z_pred``, ``z_err``, quantiles...) and flags for one chunk of spectra.

    ``model`` is an open predictor (:func:`open_model`).  ``keep_pdf`` keeps the
    full gridded ``pdf`` (N, K) of distributional models; catalogues hold only
    the summaries.
    """
    estimates = model.predict(spectra.flux, spectra.flux_error, batch_size=batch_size)
    if not keep_pdf:
        estimates.pop("pdf", None)
    has_minmax = model.scaler.to_dict().get("scaling") != "none"
    scaled = model.scaler.transform(spectra.flux) if has_minmax else None
    flag = flag_predictions(spectra, estimates["z_pred"], _z_range(model), scaled)
    return estimates, flag


def _as_spectra(data: Any) -> Spectra:
    if isinstance(data, Spectra):
        return data
    from xpz.io.read import read_input

    return read_input(Path(data) if isinstance(data, (str, os.PathLike)) else data)


def predict(
    model: Any, data: Any, *, batch_size: int = 1024, runtime: Runtime | str = Runtime.TORCH
):  # -> astropy.table.Table
    """Redshifts for ``data`` with ``model``, as an astropy Table (the catalogue columns).

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
    spectra = _as_spectra(data)
    estimates, flag = predict_spectra(predictor, spectra, batch_size=batch_size)
    table = catalog_table(
        estimates, spectra.source_id, flag, provenance(predictor, [], Runtime(runtime))
    )
    if spectra.z is not None:
        table["z"] = spectra.z
        table["z"].description = "True (spectroscopic) redshift from the input"
    return table


def input_files(inputs: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(
                p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")
                and p.suffix.lower() != ".json"
            )  # fmt: skip
            if not found:
                raise InputError("directory holds no input files", path=item)
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            raise InputError("no such file or directory", path=item)
    return files


def iter_input_spectra(
    inputs: Sequence[str | Path], chunk_rows: int = 20_000, format: str | None = None
) -> Iterator[Spectra]:
    """Spectra from every input file in chunks of at most ``chunk_rows`` rows.

    Sampled or XP_CONTINUOUS, as :func:`xpz.io.read.iter_input` reads them.
    """
    from xpz.io.read import iter_input

    for path in input_files(inputs):
        yield from iter_input(path, chunk_rows, format)


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
) -> PredictSummary:
    """Predict every row of ``inputs`` into the catalogue ``output`` (see module docs)."""
    from tqdm.auto import tqdm

    from xpz.io.catalog import CatalogWriter

    predictor = open_model(model, runtime)
    files = input_files(inputs)
    bits = [(str(f.name), np.uint32(f.value)) for f in Flag if f.value]
    counts = dict.fromkeys((name for name, _ in bits), 0)
    chunks = iter_input_spectra(files, chunk_rows, input_format)
    with (
        CatalogWriter(
            output, output_format, provenance(predictor, files, Runtime(runtime))
        ) as writer,
        tqdm(unit=" spectra", disable=not progress, desc="predict") as bar,
    ):
        for spectra in chunks:
            estimates, flag = predict_spectra(predictor, spectra, batch_size=batch_size)
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
