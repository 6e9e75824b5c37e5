"""Quantiles of gridded redshift PDFs in torch operations that export to ONNX.

The torch twin of :func:`xpz.pdf.quantiles`, with the same conventions: the
density is linear between the grid points, the CDF is its trapezoidal integral
normalised to end at 1 and interpolated linearly, and the quantile at level
``q`` lies between the last grid point with ``cdf < q`` and the first with
``cdf >= q`` (where the CDF is flat there, at the lower of the two).  The bin
is found by counting the grid points with ``cdf < q`` (a binary search in
torch; in an ONNX export, which has no ``searchsorted``, by comparing every
point), and the values are picked with ``gather``.
:meth:`xpz.models.xpznet.XpzNet.summarize` uses it for torch inference and for
ONNX export alike.

>>> grid = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
>>> flat = torch.ones(1, 3, dtype=torch.float64)
>>> grid_quantiles(flat, grid, torch.tensor([0.1, 0.9], dtype=torch.float64)).tolist()
[[0.1, 0.9]]
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["grid_cdf", "grid_quantiles"]


def grid_cdf(density: Tensor, grid: Tensor) -> Tensor:
    """CDF (N, K) at the grid points of densities (N, K) on ``grid`` (K,): 0 first, 1 last.

    A row that integrates to zero or is not finite gives NaN (no error).

    >>> grid_cdf(torch.ones(1, 3), torch.tensor([0.0, 0.5, 1.0])).tolist()
    [[0.0, 0.5, 1.0]]
    """
    steps = 0.5 * (density[:, 1:] + density[:, :-1]) * (grid[1:] - grid[:-1])
    cumulative = torch.cat([torch.zeros_like(density[:, :1]), torch.cumsum(steps, dim=1)], dim=1)
    total = cumulative[:, -1:]
    safe = torch.where(total > 0, total, torch.full_like(total, torch.nan))
    return cumulative / safe


def grid_quantiles(density: Tensor, grid: Tensor, levels: Tensor) -> Tensor:
    """Quantiles (N, L) at ``levels`` (L,) in [0, 1] of densities (N, K) on ``grid`` (K,).

    Rows whose CDF is not finite (non-finite densities, or none at all) give NaN.
    """
    c = grid_cdf(density, grid)
    k = c.shape[1]
    below = _count_below(c, levels)
    hi = torch.clamp(below, max=k - 1)  # first grid point with cdf >= level
    lo = torch.clamp(hi - 1, min=0)
    c_lo, c_hi = torch.gather(c, 1, lo), torch.gather(c, 1, hi)
    rise = c_hi - c_lo
    rising = rise > 0  # where the CDF is flat, the lower grid point
    frac = torch.where(rising, (levels.view(1, -1) - c_lo) / torch.where(rising, rise, 1.0), 0.0)
    g_lo, g_hi = grid[lo], grid[hi]
    out = g_lo + frac * (g_hi - g_lo)
    finite = torch.isfinite(c.sum(dim=1, keepdim=True))
    return torch.where(finite, out, torch.full_like(out, torch.nan))


def _count_below(cdf: Tensor, levels: Tensor) -> Tensor:
    """(N, L): how many grid points of each row of ``cdf`` (non-decreasing) lie below each level.

    A binary search in eager torch; in an ONNX export (which has no
    ``searchsorted``) every point is compared, the same count in K times the work.
    """
    if torch.onnx.is_in_onnx_export():
        return (cdf.unsqueeze(1) < levels.view(1, -1, 1)).to(torch.int64).sum(dim=2)
    wanted = levels.to(cdf.dtype).expand(cdf.shape[0], -1).contiguous()
    return torch.searchsorted(cdf.contiguous(), wanted)
