"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted writer therefore never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = ["OutputKind", "atomic_path", "check_output", "write_directory_atomically"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it to ``path`` on success.

    The temporary keeps the target's suffix (so libraries that pick a format from
    it still work).  On any exception, the temporary is removed and ``path`` is
    untouched.  A target that cannot be created (no name, a missing or read-only
    directory) raises an :class:`OSError` naming ``path``.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    target = Path(path)
    if not target.name:
        raise OSError(errno.EINVAL, "an output needs a file name", str(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.",
            suffix=f".partial{''.join(target.suffixes)}",
            dir=target.parent,
        )
    except OSError as exc:  # name the output, not the temporary beside it
        raise OSError(exc.errno, f"cannot write here ({exc.strerror})", str(target)) from exc
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers that refuse to overwrite (astropy, h5py) create it themselves
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_directory_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` fill a fresh temporary directory, then move it to ``target``.

    An existing ``target`` is replaced (moved aside, then deleted), so readers
    see either the old or the new complete directory, never a partial one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        write(tmp)
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


class OutputKind(enum.Enum):
    """What a command writes at its output path."""

    #: One file (a catalogue, a table, an ONNX model).
    FILE = "file"
    #: A directory of products (a run, a report, a partitioned catalogue).
    DIRECTORY = "directory"


def check_output(
    output: str | os.PathLike[str],
    kind: OutputKind,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse, before anything is read, an output that would harm an input or cannot be made.

    Raises :class:`~xpz.errors.InputError` (one line, naming the paths) when
    ``output`` is empty, is the same path as one of ``inputs``, lies inside an
    input directory (it would be read back as input next time) or inside a
    model directory, or holds a thing of the other kind (a file where a
    directory is wanted, or the reverse).  Returns ``output`` as a Path.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "s.csv").write_text("x")
    1
    >>> check_output(folder / "s.csv", OutputKind.FILE, [folder / "s.csv"])
    Traceback (most recent call last):
    ...
    xpz.errors.InputError: ...s.csv: the output would replace the input ...s.csv; choose another name
    """
    from xpz.errors import InputError

    text = os.fspath(output)
    if not text.strip():
        raise InputError("the output needs a name (-o is empty)")
    target = Path(text)
    resolved = target.resolve()
    for item in inputs:
        source = Path(item)
        if resolved == source.resolve():
            raise InputError(
                f"the output would replace the input {source}; choose another name", path=target
            )
        if source.is_dir() and resolved.is_relative_to(source.resolve()):
            raise InputError(f"the output lies inside the input folder {source}", path=target)
    if kind is OutputKind.FILE and (target.is_dir() or text.endswith(os.sep)):
        raise InputError("is a directory; the output needs a file name", path=target)
    if kind is OutputKind.DIRECTORY and target.exists() and not target.is_dir():
        raise InputError("exists and is not a directory; the output is a directory", path=target)
    return target
