"""Writing files: every file the project writes goes through :func:`atomic_write`.

A file is written under a temporary name in its own folder and renamed onto
its final name only once the writer has finished, so an interrupt (Ctrl-C), a
full disk or a failing writer leaves the previous file untouched and never a
partial one. :func:`check_out_file` is the matching check made before any
work starts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(path, write):
    """Call ``write(tmp)`` on a temporary path next to ``path``, then rename it onto ``path``.

    Parameters
    ----------
    path : str or Path
        Final file; its folder must exist.
    write : callable
        ``write(tmp)`` writes the whole file to ``tmp`` (a :class:`~pathlib.Path`
        in the same folder with the same suffix, so writers that pick the
        format from the suffix, e.g. ``Figure.savefig``, still work).

    Returns
    -------
    str
        ``path``.

    Notes
    -----
    The rename is ``os.replace``: atomic on POSIX when source and target are
    on the same file system, which the same folder guarantees. On any
    exception (``KeyboardInterrupt`` included) the temporary file is removed
    and the exception propagates; ``path`` keeps its old content.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a.txt", lambda tmp: tmp.write_text("done")) == str(folder / "a.txt")
    True
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt']
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return str(path)


def check_out_file(path, suffixes, option="--out"):
    """Refuse an output file that could not be written, before any work.

    Parameters
    ----------
    path : str or Path
    suffixes : sequence of str
        Accepted extensions, e.g. ``(".csv", ".parquet")``.
    option : str
        Name used in the message (the CLI flag or the parameter).

    Raises
    ------
    ValueError
        Unknown extension, missing or unwritable folder, or ``path`` is a
        folder or another non-regular file (a device, a pipe).
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        what = "an existing folder" if path.is_dir() else "not a regular file"
        raise ValueError(f"{option} {str(path)!r} is {what}; give a file name")
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {str(path)!r}: unknown extension "
                         f"{path.suffix or '(none)'!r}; use one of {', '.join(suffixes)}")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{option} {str(path)!r}: folder {str(folder)!r} does not exist")
    check_writable(folder, option, str(path))


def check_writable(folder, option="--out", shown=None):
    """Create and remove a probe file in ``folder``: ValueError naming ``option`` if that fails.

    A real write, not ``os.access``, which says yes to root everywhere
    (``/proc``, read-only mounts).
    """
    probe = Path(folder) / f".labelavg-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.open("x").close()
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{option} {shown or str(folder)!r}: folder {str(folder)!r} is not "
                         f"writable ({exc.strerror or exc})") from None
