"""All-or-nothing appends to the NDJSON files the exporter writes (spool, dead letters, bulk files)."""

from __future__ import annotations

import contextlib
import os


def append_whole(fd: int, data: bytes, fsync: bool = False) -> None:
    """Appends ``data`` to the ``O_APPEND`` file ``fd`` whole, or not at all.

    On a failure (disk full) the part that was written is cut off again: a torn line left in the file
    would be glued to the next append's first line and take it down with it (and one bad line makes a
    whole ``_bulk`` file fail to load). Raises the ``OSError``.
    """
    start = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:  # a short write (disk nearly full) is followed by the rest or an error
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise
