"""A deep ensemble of XpzNets in one model: members from different initial weights, PDFs averaged.

Each member is an :class:`~xpz.models.xpznet.XpzNet` of the same architecture,
initialised from its own draw of the random state (so from a different seed
than its neighbours) and trained on its own cross-entropy: the training loss is
the mean of the members' losses, so the members learn independently, as in
Lakshminarayanan et al. (2017), but in one training run, one model file and one
pass over each batch.  The ensemble's redshift distribution is the average of
the members' bin probabilities,

.. math:: p(z_k) = \\mathrm{softmax}_k\\left(\\frac{1}{T}\\log
   \\frac{1}{M}\\sum_m \\mathrm{softmax}(\\ell_m)_k\\right),

with one temperature ``T`` fitted on the validation set after training
(:mod:`xpz.models.temperature`), so the ensemble is calibrated as one model.
Members disagree most where the training data did not constrain them, which
widens the averaged PDF there: an ensemble's intervals hold up better on
spectra unlike its training set than one network's.

>>> config = XpzEnsembleConfig(members=2, n_bins=30)
>>> model = XpzEnsemble(config)
>>> output = model(model.example_input(3))
>>> tuple(output.shape)  # (N, members, n_bins): each member's logits
(3, 2, 30)
>>> out = model.summarize(output)
>>> tuple(out["pdf"].shape), model.num_parameters() == 2 * XpzNet(config.member()).num_parameters()
((3, 30), True)
"""

from __future__ import annotations

import dataclasses
import math
from typing import cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from xpz.models.base import RedshiftModel
from xpz.models.temperature import calibrate_temperature
from xpz.models.xpznet import XpzNet, XpzNetConfig, summarize_bins

__all__ = ["XpzEnsemble", "XpzEnsembleConfig"]


@dataclasses.dataclass(frozen=True)
class XpzEnsembleConfig(XpzNetConfig):
    """An :class:`XpzNetConfig` for each of ``members`` networks."""

    #: Number of member networks (at least 2).
    members: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.members) != self.members or self.members < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {self.members}")

    def networks(self) -> int:
        """The number of members.

        >>> XpzEnsembleConfig(members=4).networks()
        4
        """
        return int(self.members)

    def member(self) -> XpzNetConfig:
        """The config of one member network.

        >>> XpzEnsembleConfig(members=2, n_bins=40).member().n_bins
        40
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(XpzNetConfig)}
        return XpzNetConfig(**fields)


class XpzEnsemble(RedshiftModel):
    """``members`` XpzNets; output (N, members, n_bins) are the members' logits."""

    kind = "xpznet_ensemble"
    config_class = XpzEnsembleConfig
    point_estimate = False
    config: XpzEnsembleConfig
    #: Divides the log of the averaged probabilities before the softmax (1: none).
    temperature: Tensor
    #: Redshift bin edges (n_bins + 1,), derived from the config (not saved).
    edges: Tensor

    def __init__(self, config: XpzEnsembleConfig) -> None:
        super().__init__(config)
        member = config.member()
        self.members = nn.ModuleList(XpzNet(member) for _ in range(config.members))
        self.register_buffer("temperature", torch.ones(()))
        edges = torch.from_numpy(config.z_edges()).float()
        self.register_buffer("edges", edges, persistent=False)

    def nets(self) -> list[XpzNet]:
        """The member networks, in order."""
        return cast(list[XpzNet], list(self.members))

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([member(x) for member in self.nets()], dim=1)

    def embed(self, x: Tensor) -> Tensor:
        """The members' :meth:`XpzNet.embed` features, concatenated: (N, members * hidden_units)."""
        return torch.cat([member.embed(x) for member in self.nets()], dim=1)

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Member logits (N, members, n_bins) and :meth:`embed`, from one pass per member."""
        pairs = [member.forward_with_embedding(x) for member in self.nets()]
        return torch.stack([p[0] for p in pairs], dim=1), torch.cat([p[1] for p in pairs], dim=1)

    def loss(self, output: Tensor, z: Tensor) -> Tensor:
        """Mean of the members' cross-entropies (each member learns on its own)."""
        losses = [member.loss(output[:, i], z) for i, member in enumerate(self.nets())]
        return torch.stack(losses).mean()

    def prepare_training(self, z_train: Tensor) -> None:
        for member in self.nets():
            member.prepare_training(z_train)

    def target_bins(self, z: Tensor) -> Tensor:
        """Bin index of each redshift, as :meth:`XpzNet.target_bins`."""
        inner = self.edges[1:-1].to(z.dtype)
        return torch.bucketize(z.contiguous(), inner, right=True)

    def mean_log_probabilities(self, output: Tensor) -> Tensor:
        """Log of the members' averaged bin probabilities (N, n_bins), before the temperature."""
        log_probs = torch.log_softmax(output.float(), dim=2)
        return torch.logsumexp(log_probs, dim=1) - math.log(output.shape[1])

    def probabilities(self, output: Tensor) -> Tensor:
        """Probability of each redshift bin, (N, n_bins), with the fitted temperature."""
        return torch.softmax(self.mean_log_probabilities(output) / self.temperature, dim=1)

    def summarize(self, output: Tensor) -> dict[str, Tensor]:
        """As :meth:`XpzNet.summarize`, of the averaged distribution."""
        return summarize_bins(self.probabilities(output.detach()), self.config, output.device)

    def pdf_grid(self) -> NDArray[np.float64]:
        """Bin centres of the redshift grid on which ``summarize()["pdf"]`` is given."""
        return self.config.z_grid()

    def set_temperature(self, temperature: float) -> None:
        """Use ``temperature`` (> 0) from now on (saved with the model)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature.fill_(float(temperature))

    def calibrate(self, x: Tensor, z: Tensor) -> dict[str, float]:
        """Fit the one temperature of the averaged distribution on validation ``x``, ``z``."""
        return calibrate_temperature(_AveragedLogits(self), x, z)

    def conv_blocks(self) -> list[nn.Module]:
        """Block ``j`` of every member, together, for each ``j`` (freezing n freezes n in each)."""
        per_member = [member.conv_blocks() for member in self.nets()]
        return [nn.ModuleList(blocks) for blocks in zip(*per_member, strict=True)]

    def for_inference(self) -> XpzEnsemble:
        """A frozen copy whose members have their BatchNorms folded (:meth:`XpzNet.for_inference`)."""
        frozen = super().for_inference()
        frozen.members = nn.ModuleList(member.for_inference() for member in self.nets())
        return frozen.requires_grad_(False)


class _AveragedLogits:
    """The ensemble seen as one binned network, for :func:`calibrate_temperature`."""

    def __init__(self, ensemble: XpzEnsemble) -> None:
        self.ensemble = ensemble
        self.edges = ensemble.edges

    def __call__(self, x: Tensor) -> Tensor:
        return self.ensemble.mean_log_probabilities(self.ensemble(x))

    def eval(self) -> object:
        return self.ensemble.eval()

    def target_bins(self, z: Tensor) -> Tensor:
        return self.ensemble.target_bins(z)

    def set_temperature(self, temperature: float) -> None:
        self.ensemble.set_temperature(temperature)
