"""xpz's default network: a small CNN giving each spectrum a redshift PDF.

Design (for 186-pixel XP spectra divided by their own L2 norm, optionally with
their flux errors, scaled the same way, as a second channel):

* an input BatchNorm (standardises each channel), then a few convolution
  blocks ``Conv1d(k, 'same') -> BatchNorm -> ReLU -> MaxPool 2``;
* flatten, one hidden dense layer (ReLU, dropout), and a linear layer giving
  ``n_bins`` logits, one per redshift bin of width ``z_max / n_bins`` on
  ``[0, z_max]``;
* ``softmax(logits / temperature)`` is the probability of each bin; divided by
  the bin width it is a density on the bin centres (:meth:`XpzNetConfig.z_grid`),
  the layout of :mod:`xpz.pdf` and of qp's ``interp`` ensembles.

The loss is the cross-entropy against the bin of the true redshift (redshifts
outside ``[0, z_max]`` count in the end bins).  ``temperature`` is 1 while
training; :meth:`XpzNet.calibrate` fits it on the validation set afterwards so
that the central 68% and 95% intervals cover 68% and 95% of the galaxies
(:mod:`xpz.models.temperature`).  It is a buffer, so model files keep it.
The ``xpz`` recipe (:func:`xpz.recipes.xpz_recipe`) uses 600 bins (0.001 wide): typical errors (~0.003) are
smaller than the default 0.004-wide bins, whose PDFs are too wide in the core.

The network is cheap: :func:`multiply_adds` counts ~1 million multiply-adds per
spectrum for the defaults against ~33 million for the dissertation's CNN.

>>> config = XpzNetConfig()
>>> model = XpzNet(config)
>>> out = model.summarize(model(model.example_input(3)))
>>> sorted(out), tuple(out["pdf"].shape)
(['pdf', 'z_err', 'z_pred', 'z_q025', 'z_q16', 'z_q84', 'z_q975'], (3, 150))
>>> multiply_adds(config) < multiply_adds(PaperConfig()) / 10
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from xpz.layout import Z_MAX
from xpz.models.base import ModelConfig, RedshiftModel
from xpz.models.grid_quantiles import grid_quantiles
from xpz.models.paper import PaperConfig
from xpz.models.temperature import calibrate_temperature

__all__ = [
    "SUMMARY_QUANTILES",
    "XpzNet",
    "XpzNetConfig",
    "bin_weights",
    "multiply_adds",
    "summarize_bins",
]

#: Quantile levels that :meth:`XpzNet.summarize` reports, by output name.
SUMMARY_QUANTILES: dict[str, float] = {
    "z_q025": 0.025,
    "z_q16": 0.16,
    "z_pred": 0.5,
    "z_q84": 0.84,
    "z_q975": 0.975,
}


@dataclasses.dataclass(frozen=True)
class XpzNetConfig(ModelConfig):
    """Architecture of an :class:`XpzNet`."""

    #: Filters of each convolution block.
    conv_filters: tuple[int, ...] = (16, 32, 64, 64)
    #: Kernel size of each convolution block (odd: 'same' padding keeps the length).
    conv_kernels: tuple[int, ...] = (5, 5, 3, 3)
    #: Units of the hidden dense layer.
    hidden_units: int = 128
    #: Dropout before the output layer (0: none).
    dropout: float = 0.1
    #: Number of redshift bins of the output distribution.
    n_bins: int = 150
    #: Upper end of the redshift range (the lower end is 0).
    z_max: float = Z_MAX
    #: Tilt of the training loss towards rare redshifts, in [0, 1]: a galaxy's
    #: cross-entropy is weighted by the training density near its redshift to the
    #: power ``-prior_flattening`` (:func:`bin_weights`; 0: plain cross-entropy).
    prior_flattening: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.conv_filters) != len(self.conv_kernels) or not self.conv_filters:
            raise ValueError(
                "conv_filters and conv_kernels must be non-empty and of the same length, got "
                f"{self.conv_filters} and {self.conv_kernels}"
            )
        if any(int(v) != v or v < 1 for v in self.conv_filters):
            raise ValueError(f"conv_filters must be positive integers, got {self.conv_filters}")
        if any(int(k) != k or k < 1 or k % 2 == 0 for k in self.conv_kernels):
            raise ValueError(f"conv_kernels must be odd positive integers, got {self.conv_kernels}")
        if self.hidden_units < 1:
            raise ValueError(f"hidden_units must be positive, got {self.hidden_units}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be >= 2, got {self.n_bins}")
        if not self.z_max > 0:
            raise ValueError(f"z_max must be positive, got {self.z_max}")
        if not 0.0 <= self.prior_flattening <= 1.0:
            raise ValueError(f"prior_flattening must lie in [0, 1], got {self.prior_flattening}")
        if self.sequence_lengths()[-1] < 1:
            raise ValueError(
                f"{len(self.conv_filters)} pooling steps shrink {self.n_pixels} pixels to nothing"
            )

    @property
    def z_range(self) -> tuple[float, float]:
        """``(0, z_max)``: the range of the output bins.

        >>> XpzNetConfig(z_max=0.4).z_range
        (0.0, 0.4)
        """
        return (0.0, float(self.z_max))

    def networks(self) -> int:
        """How many XpzNets this config builds: 1 (an ensemble's config says more)."""
        return 1

    def sequence_lengths(self) -> list[int]:
        """Length of the sequence entering each convolution block, then after the last pool.

        >>> XpzNetConfig().sequence_lengths()
        [186, 93, 46, 23, 11]
        """
        lengths = [self.n_pixels]
        for _ in self.conv_filters:
            lengths.append(lengths[-1] // 2)
        return lengths

    def z_edges(self) -> NDArray[np.float64]:
        """The ``n_bins + 1`` bin edges on ``[0, z_max]``.

        >>> XpzNetConfig(n_bins=3, z_max=0.6).z_edges().round(6).tolist()
        [0.0, 0.2, 0.4, 0.6]
        """
        return np.linspace(0.0, self.z_max, self.n_bins + 1)

    def z_grid(self) -> NDArray[np.float64]:
        """Bin centres, where the output density ``pdf`` is given.

        >>> XpzNetConfig(n_bins=3, z_max=0.6).z_grid().round(6).tolist()
        [0.1, 0.3, 0.5]
        """
        edges = self.z_edges()
        return 0.5 * (edges[1:] + edges[:-1])


def bin_weights(
    z_train: ArrayLike, edges: ArrayLike, flattening: float, half_width: float = 0.02
) -> NDArray[np.float64]:
    """Loss weight of each redshift bin: ``(density / peak density) ** -flattening``.

    The density is the share of training galaxies within ``half_width`` of the
    bin centre (a running box, so that sparse fine bins get a stable weight),
    floored at 1/1000 of its peak; the weights are scaled to average 1 over the
    training galaxies.  ``flattening`` 0 gives equal weights, 1 weights every
    redshift range as if it held as many galaxies as the most common one.

    >>> w = bin_weights([0.1, 0.1, 0.1, 0.3], [0.0, 0.2, 0.4], 1.0, half_width=0.05)
    >>> w.round(3).tolist()  # the bin with a third of the galaxies weighs three times more
    [0.667, 2.0]
    """
    e = np.asarray(edges, dtype=np.float64)
    z = np.clip(np.asarray(z_train, dtype=np.float64), e[0], e[-1])  # as target_bins counts them
    counts = np.histogram(z, bins=e)[0].astype(np.float64)
    if flattening == 0 or counts.sum() == 0:
        return np.ones(counts.size)
    width = max(int(round(half_width / np.diff(e).mean())), 0)
    density = np.convolve(counts, np.ones(2 * width + 1), mode="same")
    density = np.maximum(density / density.max(), 1e-3)
    weights = density**-flattening
    return weights / (np.sum(counts * weights) / counts.sum())


def multiply_adds(config: XpzNetConfig | PaperConfig) -> int:
    """Multiply-adds per spectrum of the convolution and dense layers of either model.

    A convolution costs ``C_in * C_out * k * L_out``, a dense layer ``in * out``;
    normalisation, activations, pooling and biases are not counted.

    >>> multiply_adds(PaperConfig())
    33336896
    """
    if isinstance(config, PaperConfig):
        return _paper_multiply_adds(config)
    return _xpz_multiply_adds(config)


def _paper_multiply_adds(config: PaperConfig) -> int:
    """Valid convolutions (``L_out = L_in - k + 1``), pooling, dense layers, one output unit."""
    channels, total = config.input_channels, 0
    lengths = config.sequence_lengths()
    for filters, kernel, (conv_length, _) in zip(
        config.conv_filters, config.conv_kernels, lengths, strict=True
    ):
        total += channels * filters * kernel * conv_length
        channels = filters
    width = channels * lengths[-1][1]
    for units in (*config.dense_units, 1):
        total += width * units
        width = units
    return total


def _xpz_multiply_adds(config: XpzNetConfig) -> int:
    """'Same' convolutions (``L_out = L_in``), hidden dense layer, ``n_bins`` outputs; per network."""
    channels, total = config.input_channels, 0
    lengths = config.sequence_lengths()
    for filters, kernel, length in zip(
        config.conv_filters, config.conv_kernels, lengths[:-1], strict=True
    ):
        total += channels * filters * kernel * length
        channels = filters
    width = channels * lengths[-1]
    total += width * config.hidden_units + config.hidden_units * config.n_bins
    return total * config.networks()


def _conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(),
        nn.MaxPool1d(2),
    )


class XpzNet(RedshiftModel):
    """CNN with a softmax over redshift bins; output (N, n_bins) are logits."""

    kind = "xpznet"
    config_class = XpzNetConfig
    point_estimate = False
    config: XpzNetConfig
    #: Divides the logits before the softmax; fitted after training (1: none).
    temperature: Tensor
    #: Redshift bin edges (n_bins + 1,), derived from the config (not saved).
    edges: Tensor
    #: Cross-entropy weight of each bin (:meth:`prepare_training`; not saved).
    loss_weights: Tensor
    #: Input BatchNorm, then one ``Sequential(conv, BN, ReLU, pool)`` per block, then Flatten.
    features: nn.Sequential

    def __init__(self, config: XpzNetConfig) -> None:
        super().__init__(config)
        blocks: list[nn.Module] = [nn.BatchNorm1d(config.input_channels)]
        channels = config.input_channels
        for filters, kernel in zip(config.conv_filters, config.conv_kernels, strict=True):
            blocks.append(_conv_block(channels, filters, kernel))
            channels = filters
        self.features = nn.Sequential(*blocks, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(channels * config.sequence_lengths()[-1], config.hidden_units),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_units, config.n_bins),
        )
        self.register_buffer("temperature", torch.ones(()))
        edges = torch.from_numpy(config.z_edges()).float()
        self.register_buffer("edges", edges, persistent=False)
        self.register_buffer("loss_weights", torch.ones(config.n_bins), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return self.head(self.features(x))

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[1:] != (self.input_channels, self.config.n_pixels):
            raise ValueError(
                f"expected input (N, {self.input_channels}, {self.config.n_pixels}), "
                f"got {tuple(x.shape)}"
            )

    def embed(self, x: Tensor) -> Tensor:
        """The hidden dense layer's activations (N, ``hidden_units``), before dropout."""
        self._check_input(x)
        return self.head[1](self.head[0](self.features(x)))

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and :meth:`embed` from one pass."""
        hidden = self.embed(x)
        return self.head[3](self.head[2](hidden)), hidden

    def conv_blocks(self) -> list[nn.Module]:
        """One ``(conv, BN, ReLU, pool)`` block per convolution; the first includes the input BN."""
        blocks = list(self.features)[1:-1]
        return [nn.Sequential(self.features[0], blocks[0]), *blocks[1:]] if blocks else []

    def for_inference(self) -> XpzNet:
        """A frozen copy with each block's BatchNorm folded into its convolution, pooling first.

        In eval mode a BatchNorm is an affine map per channel, so
        ``BN(conv(x))`` is one convolution with rescaled weights and a bias:
        about a quarter less inference time, same outputs to float rounding.
        (The input BatchNorm stays: the zero padding of the first convolution
        keeps it from folding exactly.)  ReLU is monotonic, so it commutes with
        max pooling exactly; pooling first runs it on half the values, in place
        (``benchmarks/xpz_profile.py``).
        """
        frozen = super().for_inference()
        for block in list(frozen.features)[1:-1]:
            assert isinstance(block, nn.Sequential)
            conv, norm, relu, pool = block
            assert isinstance(conv, nn.Conv1d) and isinstance(norm, nn.BatchNorm1d)
            assert isinstance(relu, nn.ReLU) and isinstance(pool, nn.MaxPool1d)
            block[0] = fuse_conv_bn_eval(conv, norm)
            block[1], block[2], block[3] = pool, nn.ReLU(inplace=True), nn.Identity()
        return frozen.requires_grad_(False)

    def target_bins(self, z: Tensor) -> Tensor:
        """Bin index of each redshift; values outside ``[0, z_max]`` go to the end bins."""
        inner = self.edges[1:-1].to(z.dtype)
        return torch.bucketize(z.contiguous(), inner, right=True)

    def prepare_training(self, z_train: Tensor) -> None:
        """Set the per-bin loss weights of ``prior_flattening`` from the training redshifts."""
        weights = bin_weights(
            z_train.detach().cpu().numpy(), self.config.z_edges(), self.config.prior_flattening
        )
        self.loss_weights.copy_(torch.from_numpy(weights))

    def loss(self, output: Tensor, z: Tensor) -> Tensor:
        """Cross-entropy against the bin of ``z``, weighted by :attr:`loss_weights`."""
        weight = None if self.config.prior_flattening == 0 else self.loss_weights.to(output.dtype)
        return nn.functional.cross_entropy(output, self.target_bins(z), weight=weight)

    def set_temperature(self, temperature: float) -> None:
        """Use ``temperature`` (> 0) for the softmax from now on (saved with the model)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature.fill_(float(temperature))

    def calibrate(self, x: Tensor, z: Tensor) -> dict[str, float]:
        """Fit the softmax temperature on held-out inputs ``x`` and redshifts ``z`` (validation set).

        The temperature is chosen so that the central 68% and 95% intervals
        cover their nominal share of the validation galaxies; see
        :func:`xpz.models.temperature.calibrate_temperature` for the returned
        ``{"temperature": T, ...}``.
        """
        return calibrate_temperature(self, x, z)

    def probabilities(self, output: Tensor) -> Tensor:
        """Probability of each redshift bin, (N, n_bins), with the fitted temperature."""
        return torch.softmax(output.float() / self.temperature, dim=1)

    def pdf_grid(self) -> NDArray[np.float64]:
        """Bin centres of the redshift grid on which ``summarize()["pdf"]`` is given."""
        return self.config.z_grid()

    def summarize(self, output: Tensor) -> dict[str, Tensor]:
        """Median (``z_pred``), ``z_err`` = (q84 - q16) / 2, four quantiles and the density ``pdf``.

        See :func:`summarize_bins`; torch operations only, so the ONNX export
        reproduces it.
        """
        return summarize_bins(self.probabilities(output.detach()), self.config, output.device)


def summarize_bins(probs: Tensor, config: XpzNetConfig, device: torch.device) -> dict[str, Tensor]:
    """Quantiles, ``z_err`` and density ``pdf`` of bin probabilities ``probs`` (N, n_bins).

    ``pdf`` (N, n_bins) is in units of 1/z on :meth:`XpzNetConfig.z_grid`.  A
    row whose probabilities are not finite (an input the network overflows on)
    gets NaN everywhere instead of an error.  Torch operations only
    (:mod:`xpz.models.grid_quantiles`, computed in float64); results on ``device``.
    """
    if probs.device.type == "mps":  # no float64 there
        probs = probs.cpu()
    edges = torch.from_numpy(config.z_edges()).to(probs.device)
    grid = 0.5 * (edges[1:] + edges[:-1])
    finite = torch.isfinite(probs.sum(dim=1, keepdim=True))
    density = torch.where(finite, probs.double() / (edges[1:] - edges[:-1]), torch.nan)
    levels = torch.tensor(list(SUMMARY_QUANTILES.values()), dtype=torch.float64)
    values = grid_quantiles(density, grid, levels.to(probs.device)).float().to(device)
    out = {name: values[:, j] for j, name in enumerate(SUMMARY_QUANTILES)}
    out["z_err"] = 0.5 * (out["z_q84"] - out["z_q16"])
    out["pdf"] = density.float().to(device)
    return out
