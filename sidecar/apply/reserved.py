"""Folders of the store's reserved area that the engine itself keeps (journal, locks), opened safely.

Each folder is reached from the store root one component at a time with
``O_NOFOLLOW | O_DIRECTORY`` and made when missing, so a symlink planted as
``.pva`` or ``.pva/journal`` is refused, never followed. Files are then opened
relative to the folder's descriptor. OSErrors become ``StoreFault``
(``sidecar.errors.translated``).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sidecar.errors import Refused, StoreFault, translated

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def folder(root: Path, *names: str) -> Iterator[int]:
    """A descriptor of ``root/names...``, each component a real folder (made if missing)."""
    where = str(root)
    with translated(where):
        fd = os.open(root, _DIR)
    try:
        for name in names:
            where = f"{where}/{name}"
            with translated(where), suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=fd)
            try:
                child = os.open(name, _DIR, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):  # a symlink, or a file
                    raise Refused(where, f"{where} must be a real folder, not a link or a file") from None
                raise StoreFault(where, f"{where}: {error.strerror}", errno=error.errno) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)
