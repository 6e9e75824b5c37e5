"""Reading and writing spectra and catalogues.

* :mod:`xpz.io.read` -- the one entry for spectra of either kind (sampled
  186-pixel tables or Gaia XP_CONTINUOUS): :func:`~xpz.io.read.read_input`,
  :func:`~xpz.io.read.iter_input`, :func:`~xpz.io.read.identify_kind`;
* :mod:`xpz.io.formats` -- :class:`~xpz.io.formats.TableFormat`, the file
  formats and their suffixes;
* :mod:`xpz.io.labels` and :mod:`xpz.io.source_ids` -- checks every reader
  shares (redshift labels; unique ``source_id``);
* sampled tables: :mod:`xpz.io.tables` (read, write), :mod:`xpz.io.columns`
  (column conventions), :mod:`xpz.io.table_readers`, :mod:`xpz.io.table_writers`;
* XP_CONTINUOUS tables: :mod:`xpz.io.xp_continuous` (the reader) on
  :mod:`xpz.io.raw_table` (cells of each archive format), with
  :mod:`xpz.io.headers` (column names from a file's header);
* :mod:`xpz.io.catalog` -- the redshift catalogue ``xpz predict`` writes;
* :mod:`xpz.io.archive` -- downloads from the Gaia archive (``xpz fetch``);
* :mod:`xpz.io.atomic` -- files appear only when completely written.
"""
