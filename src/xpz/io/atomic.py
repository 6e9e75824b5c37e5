"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted writer therefore never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_directory_atomically"]


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
