"""Gaia DR3 XP spectra as arrays: the basis, the solutions and their sampling.

* :mod:`xpz.xp.basis` -- the XP basis functions sampled on the xpz layout
  (design matrices, shipped as package data);
* :mod:`xpz.xp.arrays` -- :class:`XPBand` / :class:`XPContinuous`, the
  ``XP_CONTINUOUS`` coefficients of N sources in memory;
* :mod:`xpz.xp.sampling` -- :func:`xp_to_spectra`, the coefficients sampled on
  the 186-pixel layout with full-covariance flux errors (e-/s).

Only the domain (:mod:`xpz.layout`, :mod:`xpz.spectra`, :mod:`xpz.errors`) is
imported here; reading files is :mod:`xpz.io`'s job.
"""

from xpz.xp.arrays import XPBand, XPContinuous, correlation_matrices
from xpz.xp.sampling import xp_to_spectra

__all__ = ["XPBand", "XPContinuous", "correlation_matrices", "xp_to_spectra"]
