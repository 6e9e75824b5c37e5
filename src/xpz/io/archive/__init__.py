"""The ESA Gaia archive: galaxy candidates and their XP_CONTINUOUS spectra.

* :mod:`xpz.io.archive.query` -- the ADQL query and the uploaded target list;
* :mod:`xpz.io.archive.fetch` -- :func:`~xpz.io.archive.fetch.fetch`, the
  resumable download into batch files (``xpz fetch``);
* :mod:`xpz.io.archive.client` -- the client protocol and astroquery's client;
* :mod:`xpz.io.archive.retry` -- bounded retries with back-off, and the one-line
  error they end in.
"""
