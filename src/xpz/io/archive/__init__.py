"""The ESA Gaia archive: galaxy candidates and their XP_CONTINUOUS spectra.

* :mod:`xpz.io.archive.query` -- the ADQL query and the uploaded target list;
* :mod:`xpz.io.archive.fetch` -- :func:`~xpz.io.archive.fetch.fetch`, the
  resumable download into batch files (``xpz fetch``).
"""
