"""The inputs of ``xpz predict``: its files, their chunks, and whether the model reads flux errors.

:func:`reads_flux_error` asks an open predictor (a torch
:class:`~xpz.models.modelfile.LoadedModel` or an :class:`~xpz.export.OnnxModel`)
whether it reads flux errors; when it does not, XP_CONTINUOUS input is sampled
without propagating the coefficient covariance (``flux_error=False`` of
:func:`xpz.io.read.read_input`), which is most of the conversion time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xpz.errors import InputError
from xpz.spectra import Spectra

__all__ = ["file_chunks", "input_files", "iter_input_spectra", "reads_flux_error"]


def reads_flux_error(model: Any) -> bool:
    """True when the open predictor ``model`` (``LoadedModel`` or ``OnnxModel``) reads flux errors.

    Both say how many input channels they read: 1 (fluxes) or 2 (fluxes and errors).
    """
    return int(model.input_channels) == 2


def input_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The files of ``inputs``: files as given, and the files of folders (not ``.json``, not hidden)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(
                p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")
                and p.suffix.lower() != ".json"
            )  # fmt: skip
            if not found:
                raise InputError("directory holds no input files", path=item)
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            raise InputError("no such file or directory", path=item)
    return files


def iter_input_spectra(
    inputs: Sequence[str | Path],
    chunk_rows: int = 20_000,
    format: str | None = None,
    *,
    flux_error: bool = True,
) -> Iterator[Spectra]:
    """Spectra from every input file in chunks of at most ``chunk_rows`` rows.

    Sampled or XP_CONTINUOUS, as :func:`xpz.io.read.iter_input` reads them
    (``flux_error`` as there).
    """
    from xpz.io.read import iter_input

    for path in input_files(inputs):
        yield from iter_input(path, chunk_rows, format, flux_error=flux_error)


def file_chunks(
    files: Sequence[Path], chunk_rows: int, input_format: str | None, *, flux_error: bool = True
) -> Iterator[tuple[Path, int, Spectra]]:
    """(file, first row of the chunk in its file, chunk) for every chunk of ``files``.

    A ``source_id`` repeated within a file or across files is an
    :class:`~xpz.errors.InputError`.
    """
    from xpz.io.catalog import CatalogIds
    from xpz.io.read import iter_input

    ids = CatalogIds()
    for path in files:
        first_row = 0
        for spectra in iter_input(path, chunk_rows, input_format, flux_error=flux_error):
            ids.add(spectra, path, first_row)
            yield path, first_row, spectra
            first_row += len(spectra)
