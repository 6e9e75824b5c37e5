"""ONNX export of xpz models, and the onnxruntime inference path.

:func:`export_onnx` turns a model directory (see :mod:`xpz.models.modelfile`)
into one self-contained ``.onnx`` file:

* inputs: ``flux`` (N, 186) float32 raw fluxes in e-/s, plus ``flux_error``
  (N, 186) float32 in e-/s for models that use flux errors; N is dynamic;
* the scaler is folded into the graph (computed in float64 like the numpy
  scaler, including the per-spectrum median of :class:`~xpz.preprocess.PerSpectrumScaler`),
  so the file needs no xpz code to run;
* outputs: the model's ``summarize()`` estimates (``z_pred``, and for
  distributional models ``z_err`` and the quantiles), float32 (N,), plus the
  gridded ``pdf`` (N, K) when exported with ``include_pdf=True``, plus
  ``ood_score`` (N,) for models with OOD statistics (:mod:`xpz.models.ood`,
  computed in the graph); a row with a non-finite scaled input gets NaN
  outputs, as in torch;
* metadata: the whole ``model.json`` (``xpz.model_json``, with its
  ``integrity`` checksum, verified again by :class:`OnnxModel`), the weights'
  SHA-256, the pixel-layout and model-format versions.

:class:`OnnxModel` runs such a file with onnxruntime and mirrors
:func:`~xpz.models.modelfile.predict_batches`; it is what
:func:`xpz.inference.open_model` returns for ``xpz predict --runtime onnx``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError, XpzError
from xpz.io.atomic import atomic_path

__all__ = [
    "ONNX_OPSET",
    "OnnxModel",
    "export_onnx",
    "onnx_bytes",
]

#: ONNX operator set the exporter targets (onnxruntime >= 1.12 runs it).
ONNX_OPSET = 17
#: Prefix of the metadata_props keys xpz writes.
META_PREFIX = "xpz."


def _scaler_module(state: Mapping[str, Any]):  # -> torch.nn.Module
    """The scaler of ``state`` (``Scaler.to_dict()``) as a traceable torch module.

    It maps raw fluxes (N, P) float32 to the scaled network inputs, computed in
    float64; ``error(flux, flux_error)`` scales errors as ``transform_error`` does.
    """
    import torch
    from torch import Tensor, nn

    from xpz.preprocess import MinMaxScaler, PerSpectrumScaler, SpectrumNorm, scaler_from_dict

    scaler = scaler_from_dict(state)

    class Folded(nn.Module):
        scale: Tensor
        offset: Tensor

        def __init__(self) -> None:
            super().__init__()
            minmax = scaler if isinstance(scaler, MinMaxScaler) else getattr(scaler, "minmax", None)
            self.has_minmax = minmax is not None
            if minmax is not None:
                scale, offset = minmax._check_fitted()
                self.register_buffer("scale", torch.from_numpy(scale.astype(np.float64)))
                self.register_buffer("offset", torch.from_numpy(offset.astype(np.float64)))
                self.clip = minmax.feature_range if minmax.clip else None
            self.norm = scaler.norm if isinstance(scaler, PerSpectrumScaler) else None

        def _norm(self, x: Tensor) -> Tensor:
            """Per-row norm (N, 1) ignoring NaN; NaN where not positive and finite."""
            nan = torch.isnan(x)
            if self.norm is SpectrumNorm.MEDIAN:
                n = (~nan).sum(dim=1, keepdim=True)
                ordered, _ = torch.sort(torch.where(nan, torch.full_like(x, torch.inf), x), dim=1)
                lo = torch.gather(ordered, 1, torch.clamp((n - 1) // 2, min=0))
                hi = torch.gather(ordered, 1, torch.clamp(n // 2, min=0))
                value = 0.5 * (lo + hi)
            else:
                zeroed = torch.where(nan, torch.zeros_like(x), x)
                value = zeroed.sum(dim=1, keepdim=True)
                if self.norm is SpectrumNorm.L2:
                    value = torch.sqrt((zeroed * zeroed).sum(dim=1, keepdim=True))
            good = torch.isfinite(value) & (value > 0)
            return torch.where(good, value, torch.full_like(value, torch.nan))

        def forward(self, flux: Tensor) -> Tensor:
            x = flux.double()
            if self.norm is not None:
                x = x / self._norm(x)
            if self.has_minmax:
                x = x * self.scale + self.offset
                if self.clip is not None:
                    x = torch.clamp(x, *self.clip)
            return x.float()

        def error(self, flux: Tensor, flux_error: Tensor) -> Tensor:
            e = flux_error.double()
            if self.norm is not None:
                e = e / self._norm(flux.double())
            if self.has_minmax:
                e = e * self.scale
            return e.float()

    return Folded()


def _export_module(loaded, output_names: Sequence[str]):  # -> torch.nn.Module
    """Raw fluxes (and errors) -> the named summarize() outputs, as one module."""
    import torch
    from torch import Tensor, nn

    from xpz.models.ood import ood_statistics

    class Exported(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scaler = _scaler_module(loaded.scaler.to_dict())
            self.model = loaded.model

        def forward(self, flux: Tensor, flux_error: Tensor | None = None) -> tuple[Tensor, ...]:
            channels = [self.scaler(flux)]
            if flux_error is not None:
                channels.append(self.scaler.error(flux, flux_error))
            x = torch.stack(channels, dim=1)
            stats = ood_statistics(self.model)
            if stats is None:
                out = self.model.summarize(self.model(x))
            else:
                output, embedding = self.model.forward_with_embedding(x)
                out = {**self.model.summarize(output), "ood_score": stats(x, embedding)}
            # NaN in, NaN out, as in torch (onnxruntime's ReLU and MaxPool drop NaN)
            finite = torch.isfinite(x.sum(dim=(1, 2)))
            return tuple(
                torch.where(
                    finite.view(-1, *[1] * (out[name].dim() - 1)), out[name].float(), torch.nan
                )
                for name in output_names
            )

    return Exported().eval()


def onnx_bytes(model_dir: str | os.PathLike[str], *, include_pdf: bool = False) -> bytes:
    """The ONNX model of the xpz model directory ``model_dir``, as bytes (see module docs)."""
    import warnings

    import onnx
    import torch

    from xpz.models.modelfile import load_model

    loaded = load_model(model_dir)
    model = loaded.model
    with torch.inference_mode():
        names = list(model.summarize(model(model.example_input(2))))
    if loaded.has_ood:
        names.append("ood_score")
    if not include_pdf and "pdf" in names:
        names.remove("pdf")
    inputs = ["flux", "flux_error"][: model.input_channels]
    example = tuple(torch.from_numpy(a[:2]) for a in _example_inputs(loaded))
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter announces its deprecation
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _export_module(loaded, names),
            example,
            buffer,  # type: ignore[arg-type]  # file-like objects are accepted
            dynamo=False,  # the dynamo exporter needs onnxscript, which xpz does not depend on
            input_names=inputs,
            output_names=names,
            dynamic_axes={name: {0: "n_spectra"} for name in inputs + names},
            opset_version=ONNX_OPSET,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    info = loaded.info  # verified, with its integrity checksum (checked again when run)
    meta = {
        "model_json": json.dumps(info),
        "weights_sha256": info["weights"]["sha256"],
        "layout_version": str(info["layout_version"]),
        "format_version": str(info["format_version"]),
        "model_kind": info["model"]["kind"],
        "source": str(Path(loaded.path).resolve()),
    }
    onnx.helper.set_model_props(proto, {META_PREFIX + k: v for k, v in meta.items()})
    proto.producer_name = "xpz"
    onnx.checker.check_model(proto)
    content = proto.SerializeToString()
    _check_against_torch(content, loaded, names)
    return content


def _example_inputs(loaded) -> list[NDArray[np.float32]]:
    """Eight positive, spectrum-like raw inputs (fluxes, and errors for 2-channel models)."""
    rng = np.random.default_rng(0)
    flux = rng.lognormal(3.0, 1.0, (8, loaded.model.config.n_pixels)).astype(np.float32)
    return [flux, (0.1 * flux).astype(np.float32)][: loaded.model.input_channels]


def _check_against_torch(content: bytes, loaded, names: Sequence[str]) -> None:
    """Refuse an export whose outputs differ from torch's (e.g. numpy code in summarize())."""
    import onnxruntime as ort

    from xpz.models.modelfile import predict_batches

    inputs = _example_inputs(loaded)
    expected = predict_batches(loaded, inputs[0], inputs[1] if len(inputs) > 1 else None)
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    feed_names = [i.name for i in session.get_inputs()]
    same = len(feed_names) == len(inputs)  # inputs the trace found unused are dropped
    if same:
        try:  # a graph with constants where the batch should be may not even run
            actual = session.run(None, dict(zip(feed_names, inputs, strict=True)))
        except Exception:  # onnxruntime raises its own untyped errors
            actual, same = [], False
        same = same and all(
            np.allclose(value, expected[name], rtol=1e-4, atol=1e-5, equal_nan=True)
            for name, value in zip(names, actual, strict=True)
        )
    if not same:
        raise XpzError(
            f"{loaded.path}: the ONNX graph does not reproduce the {loaded.model.kind!r} "
            "model's outputs; its forward() and summarize() must use torch operations only"
        )


def export_onnx(
    model_dir: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    include_pdf: bool = False,
) -> Path:
    """Write the model directory ``model_dir`` as one ONNX file at ``output_path`` (atomically)."""
    content = onnx_bytes(model_dir, include_pdf=include_pdf)
    with atomic_path(output_path) as tmp:
        tmp.write_bytes(content)
    return Path(output_path)


class OnnxModel:
    """An exported xpz model run by onnxruntime (with its CUDA provider when present).

    ``source`` is an ``.onnx`` file written by :func:`export_onnx`, or an xpz
    model directory (exported in memory).  Offers what the inference code
    reads from a :class:`~xpz.models.modelfile.LoadedModel`: ``scaler``,
    ``metadata``, ``path``, ``z_range``, plus ``info`` (the full ``model.json``).
    """

    def __init__(self, source: str | os.PathLike[str], *, threads: int = 0) -> None:
        import onnxruntime as ort

        from xpz.accelerator import onnx_providers
        from xpz.models.modelfile import ModelFileError, verify_model_json
        from xpz.models.registry import model_config_from_dict
        from xpz.models.shipped import resolve_model
        from xpz.preprocess import scaler_from_dict

        self.path = resolve_model(source)
        if self.path.is_dir():
            content = onnx_bytes(self.path)
        elif self.path.is_file():
            content = self.path.read_bytes()
        else:
            raise InputError("no such ONNX file or model directory", path=self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime's default (all cores)
        try:
            self.session = ort.InferenceSession(content, options, providers=onnx_providers())
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise XpzError(f"{self.path}: not a loadable ONNX model ({err})") from err
        props = self.session.get_modelmeta().custom_metadata_map
        if META_PREFIX + "model_json" not in props:
            raise XpzError(f"{self.path}: ONNX file has no xpz metadata (not from xpz export)")
        self.info: dict[str, Any] = json.loads(props[META_PREFIX + "model_json"])
        verify_model_json(self.info, self.path)
        if self.info.get("weights", {}).get("sha256") != props.get(META_PREFIX + "weights_sha256"):
            raise ModelFileError(f"{self.path}: xpz metadata disagree on the weights' checksum")
        self.scaler = scaler_from_dict(self.info["scaler"])
        self.metadata: Mapping[str, Any] = self.info["metadata"]
        #: The redshifts the model predicts (from its config in ``model.json``).
        self.z_range = model_config_from_dict(self.info["model"]).z_range
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def input_channels(self) -> int:
        """1: the model reads fluxes; 2: fluxes and flux errors."""
        return len(self.input_names)

    def predict(
        self,
        flux: ArrayLike,
        flux_error: ArrayLike | None = None,
        batch_size: int = 4096,
        *,
        pdf: bool = True,
    ) -> dict[str, NDArray[np.float32]]:
        """Estimates for raw fluxes (N, 186) e-/s, as :func:`predict_batches` returns them."""
        arrays = [np.asarray(flux, np.float32)]
        if self.input_channels == 2:
            if flux_error is None:
                raise ValueError("this model uses flux errors; pass flux_error")
            arrays.append(np.asarray(flux_error, np.float32))
        wanted = [name for name in self.output_names if pdf or name != "pdf"]
        if len(arrays[0]) == 0:  # the graph cannot run on 0 rows
            return {
                out.name: np.empty(
                    (0, *(d if isinstance(d, int) else 0 for d in out.shape[1:]))
                ).astype(np.float32)
                for out in self.session.get_outputs()
                if out.name in wanted
            }
        parts: dict[str, list[NDArray]] = {name: [] for name in wanted}
        for start in range(0, len(arrays[0]), batch_size):
            feed = {
                name: np.ascontiguousarray(a[start : start + batch_size])
                for name, a in zip(self.input_names, arrays, strict=True)
            }
            for name, value in zip(wanted, self.session.run(wanted, feed), strict=True):
                parts[name].append(value)
        return {name: np.concatenate(values) for name, values in parts.items()}
