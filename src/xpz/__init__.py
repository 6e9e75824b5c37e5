"""xpz: galaxy redshifts from Gaia DR3 BP/RP (XP) spectra.

Heavy libraries (torch, astropy, GaiaXPy, kcorrect) are imported only where they
are used, so ``import xpz`` and ``xpz --help`` stay fast.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xpz")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
