"""Out-of-distribution scores for every model: how far a spectrum lies from the training set.

Every :class:`~xpz.models.base.RedshiftModel` offers ``embed(x)``, its
penultimate-layer features (N, D) (an ensemble concatenates its members').
After training and calibration, :func:`fit_ood` fits on a capped random sample
of the *training* inputs (seeded) up to two parts (:class:`OodMethod`):

* the mean and a Ledoit-Wolf shrinkage covariance of the embeddings; a
  spectrum's part is the Mahalanobis distance of its embedding;
* the mean and the top :data:`INPUT_COMPONENTS` principal components of the
  scaled inputs; a spectrum's part is the norm of what they leave unexplained.

On the *validation* inputs, each part is divided by its ``1 - false_positive_rate``
quantile, and the larger of the parts by the same quantile of that maximum:

    ood_score = max(part / its validation quantile) / (validation quantile of that max)

so the score is comparable between models: 1 (:data:`OOD_THRESHOLD`) is the
threshold above which ``xpz predict`` sets ``Flag.OUT_OF_DISTRIBUTION``, and by
construction ``false_positive_rate`` of the validation galaxies lie above it.
``docs/ood.md`` compares the parts on shifted data; the default is both
(``COMBINED``).

The statistics are an :class:`OodStatistics` module attached to the model under
the name :data:`OOD_MODULE`: its tensors (``ood.mean``, ``ood.whitening``,
``ood.input_mean``, ``ood.input_basis``, ``ood.part_scale``, ``ood.scale``)
are saved in ``model.safetensors`` with the weights (and covered by their
checksum); :func:`fit_ood` returns the scalars that ``model.json`` records under
``metadata["ood"]``.  The score is torch operations only, so the ONNX export
computes it in the graph.  A model file without them (made before they
existed) predicts ``ood_score`` NaN and never sets the flag.

>>> tensors = {"mean": torch.zeros(2), "whitening": torch.eye(2)}
>>> stats = OodStatistics(tensors | {"scale": torch.tensor(2.0), "part_scale": torch.ones(1)})
>>> stats(torch.zeros(2, 1, 3), torch.tensor([[3.0, 4.0], [0.0, 1.0]])).tolist()
[2.5, 0.5]
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "DEFAULT_FPR",
    "MAX_FIT_SAMPLES",
    "OOD_MODULE",
    "OOD_THRESHOLD",
    "OodMethod",
    "OodStatistics",
    "attach_ood",
    "embeddings",
    "fit_ood",
    "ood_statistics",
    "split_ood_tensors",
    "without_ood",
]

#: Name of the statistics' submodule; its tensors are saved as ``ood.<name>``.
OOD_MODULE = "ood"
#: ``ood_score`` above which a spectrum is flagged ``OUT_OF_DISTRIBUTION``.
OOD_THRESHOLD = 1.0
#: Share of validation galaxies above the threshold, by default.
DEFAULT_FPR = 0.01
#: Training embeddings the mean and covariance are fitted on, at most (a seeded sample).
MAX_FIT_SAMPLES = 20_000
_PREFIX = OOD_MODULE + "."


class OodMethod(enum.Enum):
    """What :class:`OodStatistics` measures."""

    #: Mahalanobis distance of ``embed(x)`` to the training embeddings.
    EMBEDDING = "embedding"
    #: Residual of the scaled input after projection on the training inputs' top
    #: :data:`INPUT_COMPONENTS` principal components.
    INPUT_RESIDUAL = "input_residual"
    #: The larger of the two, each in units of its validation quantile.
    COMBINED = "combined"


class OodStatistics(nn.Module):
    """``ood_score`` from the scaled input (N, C, P) and the embedding (N, D), in threshold units.

    Holds the parts its :class:`OodMethod` uses: ``mean`` (D,) and
    ``whitening`` (D, D) of the embeddings, ``input_mean`` (C * P,) and
    ``input_basis`` (C * P, K) of the inputs; ``part_scale`` (one per part)
    divides each part's distance, ``scale`` the larger of them.
    """

    scale: Tensor
    part_scale: Tensor

    def __init__(self, tensors: Mapping[str, Tensor]) -> None:
        super().__init__()
        names = {"scale", "part_scale"} | set(_PARTS["embedding"]) | set(_PARTS["input"])
        unknown = set(tensors) - names
        if unknown or "scale" not in tensors or "part_scale" not in tensors:
            raise ValueError(f"OOD statistics need scale and part_scale, got {sorted(tensors)}")
        self.parts = [p for p, keys in _PARTS.items() if all(k in tensors for k in keys)]
        if not self.parts or tensors["part_scale"].shape != (len(self.parts),):
            raise ValueError(f"OOD statistics have no complete part: {sorted(tensors)}")
        for name, value in tensors.items():
            self.register_buffer(name, value.float().contiguous())
        if not float(self.scale) > 0 or not bool((self.part_scale > 0).all()):
            raise ValueError("OOD scales must be positive")

    def distances(self, x: Tensor, embedding: Tensor) -> Tensor:
        """Each part's raw distance, (N, parts)."""
        out = []
        for part in self.parts:
            if part == "embedding":
                centred = embedding.float() - self.get_buffer("mean")
                w = centred @ self.get_buffer("whitening")
            else:
                centred = x.float().flatten(1) - self.get_buffer("input_mean")
                basis = self.get_buffer("input_basis")
                w = centred - (centred @ basis) @ basis.T
            out.append(torch.sqrt((w * w).sum(dim=1)))
        return torch.stack(out, dim=1)

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        """``ood_score`` (N,) of scaled inputs ``x`` and their ``embedding``."""
        parts = self.distances(x, embedding) / self.part_scale
        return parts.max(dim=1).values / self.scale


#: The tensors of each part of :class:`OodStatistics`.
_PARTS = {"embedding": ("mean", "whitening"), "input": ("input_mean", "input_basis")}
#: Principal components of the scaled inputs that the input residual keeps.
INPUT_COMPONENTS = 16


def ood_statistics(model: nn.Module) -> OodStatistics | None:
    """The statistics attached to ``model``, or None (a model trained before they existed)."""
    stats = model._modules.get(OOD_MODULE)
    return stats if isinstance(stats, OodStatistics) else None


def attach_ood(model: nn.Module, stats: OodStatistics | None) -> None:
    """Attach ``stats`` to ``model`` (saved with its weights); None removes them."""
    if stats is None:
        model._modules.pop(OOD_MODULE, None)
    else:
        model.add_module(OOD_MODULE, stats.to(next(model.parameters()).device))


def split_ood_tensors(
    weights: Mapping[str, Tensor],
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``weights`` (a state dict) split into the network's and the OOD statistics' tensors.

    >>> net, ood = split_ood_tensors({"head.w": torch.ones(1), "ood.scale": torch.ones(())})
    >>> list(net), list(ood)
    (['head.w'], ['scale'])
    """
    net = {k: v for k, v in weights.items() if not k.startswith(_PREFIX)}
    ood = {k[len(_PREFIX) :]: v for k, v in weights.items() if k.startswith(_PREFIX)}
    return net, ood


def without_ood(weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The network's tensors of a state dict (what a freshly built model of its kind takes)."""
    return split_ood_tensors(weights)[0]


def embeddings(model: Any, x: Tensor, *, batch_size: int = 4096) -> Tensor:
    """``model.embed`` of inputs ``x`` (N, C, pixels) in eval mode, batched, float64 on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    parts = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            parts.append(model.embed(x[start : start + batch_size].to(device)).double().cpu())
    return torch.cat(parts)


def _whitening(train: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, whitening matrix W (covariance^-1/2, Ledoit-Wolf shrunk) and the shrinkage."""
    from sklearn.covariance import ledoit_wolf

    mean = train.mean(axis=0)
    cov, shrinkage = ledoit_wolf(train - mean, assume_centered=True)
    values, vectors = np.linalg.eigh(cov)
    floor = max(float(values.max()), 1e-12) * 1e-9
    return mean, vectors / np.sqrt(np.maximum(values, floor)), float(shrinkage)


def _principal(train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the top ``k`` principal directions (P, k) of ``train`` (N, P)."""
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    return mean, vt[:k].T


def _quantile(values: Tensor, level: float) -> float:
    finite = values[torch.isfinite(values)].double().numpy()
    return max(float(np.quantile(finite, level)), 1e-12)


def fit_ood(
    model: Any,
    x_train: Tensor,
    x_validation: Tensor,
    *,
    method: OodMethod = OodMethod.COMBINED,
    false_positive_rate: float = DEFAULT_FPR,
    max_samples: int = MAX_FIT_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit and attach the OOD statistics of ``model`` (see module docs); return what was fitted.

    Means, covariance and principal components come from at most
    ``max_samples`` training inputs drawn with ``seed``; every scale is the
    ``1 - false_positive_rate`` quantile on the validation inputs.  Leaves the
    model in eval mode.
    """
    if not 0 < false_positive_rate < 1:
        raise ValueError(f"false_positive_rate must lie in (0, 1), got {false_positive_rate}")
    method = OodMethod(method)
    rng = np.random.default_rng(seed)
    rows = torch.from_numpy(np.sort(rng.permutation(len(x_train))[:max_samples]))
    tensors: dict[str, Tensor] = {}
    info: dict[str, Any] = {}
    if method is not OodMethod.INPUT_RESIDUAL:
        mean, whitening, shrinkage = _whitening(embeddings(model, x_train[rows]).numpy())
        tensors |= {"mean": torch.from_numpy(mean), "whitening": torch.from_numpy(whitening)}
        info |= {"embedding_dim": int(mean.shape[0]), "covariance_shrinkage": shrinkage}
    if method is not OodMethod.EMBEDDING:
        flat = x_train[rows].double().flatten(1).numpy()
        mean, basis = _principal(flat, min(INPUT_COMPONENTS, flat.shape[1]))
        tensors |= {"input_mean": torch.from_numpy(mean), "input_basis": torch.from_numpy(basis)}
        info["input_components"] = int(basis.shape[1])
    level = 1 - false_positive_rate
    n_parts = sum(all(k in tensors for k in keys) for keys in _PARTS.values())
    unit = {**tensors, "scale": torch.tensor(1.0), "part_scale": torch.ones(n_parts)}
    raw = OodStatistics(unit).distances(x_validation, embeddings(model, x_validation))
    part_scale = torch.tensor([_quantile(raw[:, j], level) for j in range(n_parts)])
    combined = (raw / part_scale).max(dim=1).values
    scale = _quantile(combined, level)
    tensors |= {"part_scale": part_scale, "scale": torch.tensor(scale)}
    attach_ood(model, OodStatistics(tensors))
    return {
        "method": method.value,
        "threshold": OOD_THRESHOLD,
        "false_positive_rate": false_positive_rate,
        "validation_quantiles": [float(v) for v in part_scale],
        "fit_samples": len(rows),
        "validation_samples": len(x_validation),
        "seed": seed,
        **info,
    }
