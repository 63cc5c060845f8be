"""Owner-only folders and files: a backend's data is never readable by another local user.

A backend's folder holds session tokens (``data/local.db``), recorded runs (``executions.sqlite``), the
admin token (``secrets.json``) and uploaded files. Its folders are made 0700 and those files 0600 whatever
the process umask: ``mkdir`` and ``open`` apply the umask to the mode they are given, so the mode is set
again with ``chmod`` right after creation, before anything is written. Looser modes found on existing ones
are tightened when a backend opens them. SQLite creates a database's ``-wal`` and ``-shm`` files with the
mode of the database file, so a database made 0600 here keeps them 0600 too.

A mode that cannot be changed (a folder owned by another user) is logged and left: the backend still
starts, as it did before modes were enforced.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = structlog.get_logger("sidecar.files")


def private_dir(path: Path) -> Path:
    """Create ``path`` (with any missing parents) with mode 0700; an existing one loses its group and
    other permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        _tighten(path, PRIVATE_DIR_MODE)
    else:
        os.chmod(path, PRIVATE_DIR_MODE)  # exactly: mkdir applied the umask
    return path


def private_database(path: Path) -> Path:
    """Make sure the database file at ``path`` exists with mode 0600 before SQLite opens it, and tighten
    its journal files left by an earlier run. An existing database is neither truncated nor changed."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except FileExistsError:
        _tighten(path, PRIVATE_FILE_MODE)
    else:
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # exactly: open applied the umask
        finally:
            os.close(fd)
    for suffix in SQLITE_COMPANIONS:
        _tighten(path.with_name(path.name + suffix), PRIVATE_FILE_MODE)
    return path


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, a new or emptied file with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as stream:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # before the first byte: an existing file may have been looser
        stream.write(data)


def _tighten(path: Path, allowed: int) -> None:
    """Clear every permission bit of ``path`` beyond ``allowed``; a missing path is left missing."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & ~allowed:
            os.chmod(path, mode & allowed)
    except FileNotFoundError:
        return
    except PermissionError as error:
        log.warning("cannot make private", path=str(path), error=str(error))
