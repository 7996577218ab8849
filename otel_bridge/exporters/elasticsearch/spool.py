"""Crash-safe, append-only, size-bounded on-disk spool of documents waiting for Elasticsearch.

Layout: one directory per exporter, holding segment files. A process appends to its own
``seg-<time_ns>-<pid>.open`` file and seals it (renames to ``.seg``) when it reaches the segment
size, on shutdown, or before its own replay. Replay reads sealed segments oldest first; a segment is
deleted once every document in it was delivered or dead-lettered, and rewritten (atomically) with
what is left when delivery stops half way. An ``.open`` segment whose process is gone is sealed by
whoever looks next.

Each line is ``<crc32 hex> <json>\\n`` and is written with one ``write`` on an ``O_APPEND`` file then
``fsync``: a crash can only tear the last line, which fails its checksum and is skipped (counted).
Replaying a document twice is harmless: its ``_id`` is fixed, so Elasticsearch answers 409.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch._append import append_whole
from otel_bridge.exporters.elasticsearch.documents import Document

_log = logging.getLogger("otel_bridge.elasticsearch.spool")

# Delivers documents; returns those that could not be delivered now (to keep in the spool).
Deliver = Callable[[list[Document]], list[Document]]


@dataclass
class SpoolStatus:
    """What a spool holds."""

    directory: Path
    segments: int
    records: int
    bytes: int


def encode_line(doc: Document) -> bytes:
    """One spool line for ``doc``."""
    head = json.dumps({"i": doc.id, "x": doc.index, "t": doc.time_ns}, separators=(",", ":")).encode()
    payload = head[:-1] + b',"s":' + doc.source + b"}"
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode_line(line: bytes) -> Document | None:
    """The document of a spool line, or None when the line is torn or corrupt."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        entry = json.loads(payload)
        source = json.dumps(entry["s"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return Document(
            id=str(entry["i"]),
            index=str(entry["x"]),
            source=source.encode("utf-8", "surrogatepass"),
            time_ns=int(entry["t"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """The spool of one exporter (see the module docstring for the format and guarantees)."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        stats: ExporterStats | None = None,
        fsync: bool = True,
        segment_bytes: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.stats = stats or ExporterStats("spool", "spool")
        self.fsync = fsync
        self.segment_bytes = segment_bytes or max(64 * 1024, min(max_bytes // 8, 16 * 1024 * 1024))
        self._lock = threading.Lock()
        self._open: Path | None = None
        self._open_size = 0
        self._written = 0  # lines the current append got onto disk

    # -- writing ---------------------------------------------------------------------------------

    def append(self, docs: Sequence[Document]) -> int:
        """Appends ``docs``; returns how many were written (the rest are counted as dropped)."""
        if not docs:
            return 0
        lines = [encode_line(d) for d in docs]
        with self._lock:
            self._written = 0
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                if sum(len(line) for line in lines) > self.max_bytes:
                    lines = _newest_fitting(lines, self.max_bytes)  # a batch bigger than the spool
                    self.stats.drop("spool_full", len(docs) - len(lines))
                self._make_room(sum(len(line) for line in lines))
                self._write(lines)
            except OSError as exc:
                _log.warning("cannot write the spool in %s: %s", self.directory, exc)
                self.stats.drop("spool_error", len(lines) - self._written)  # segments written before count
            written = self._written
        self.stats.add("spooled", written)
        return written

    def _write(self, lines: list[bytes]) -> None:
        # Cut into segments of about segment_bytes: replay holds one segment in memory at a time.
        self._written = 0
        group: list[bytes] = []
        size = 0
        for line in lines:
            if self._open_size + size + len(line) > self.segment_bytes and (group or self._open_size):
                if group:
                    self._append_to_segment(b"".join(group))
                    self._written += len(group)
                self._seal_locked()
                group, size = [], 0
            group.append(line)
            size += len(line)
        if group:
            self._append_to_segment(b"".join(group))
            self._written += len(group)

    def _append_to_segment(self, data: bytes) -> None:
        if self._open is None or self._open_size >= self.segment_bytes:
            self._seal_locked()
            self._open = self.directory / f"seg-{time.time_ns():020d}-{os.getpid()}.open"
            self._open_size = 0
        fd = os.open(self._open, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            append_whole(fd, data, self.fsync)  # a failed append leaves no torn line behind
        finally:
            os.close(fd)
        self._open_size += len(data)

    def _make_room(self, need: int) -> None:
        files = self._all_files()
        total = sum(size for _, size in files)
        for path, size in files:
            if total + need <= self.max_bytes:
                return
            if path == self._open:
                self._open = None
                self._open_size = 0
            n = self._count_lines(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
            self.stats.drop("spool_full", n)
            _log.warning("spool over %d bytes: dropped %d oldest records", self.max_bytes, n)

    def after_fork(self) -> None:
        """In a forked child: a new lock, and the parent's open segment is left to the parent."""
        self._lock = threading.Lock()
        self._open = None
        self._open_size = 0

    def seal(self) -> None:
        """Closes the segment this process appends to, making it visible to replay."""
        with self._lock:
            self._seal_locked()

    def _seal_locked(self) -> None:
        if self._open is not None:
            with contextlib.suppress(FileNotFoundError):
                self._open.rename(self._open.with_suffix(".seg"))
            self._open = None
            self._open_size = 0

    # -- reading ---------------------------------------------------------------------------------

    def _all_files(self) -> list[tuple[Path, int]]:
        """Every segment (sealed and open, any process), oldest first, with its size."""
        found: list[tuple[Path, int]] = []
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith("seg-") and entry.name.endswith((".seg", ".open")):
                with contextlib.suppress(FileNotFoundError):
                    found.append((Path(entry.path), entry.stat().st_size))
        found.sort(key=lambda item: item[0].name)
        return found

    def sealed_segments(self) -> list[Path]:
        """Sealed segments oldest first; open segments of dead processes are sealed on the way."""
        result = []
        for path, _ in self._all_files():
            if path.suffix == ".open":
                if path == self._open:
                    continue
                pid = int(path.stem.rsplit("-", 1)[-1])
                if pid != os.getpid() and _pid_alive(pid):
                    continue
                sealed = path.with_suffix(".seg")
                with contextlib.suppress(FileNotFoundError):
                    path.rename(sealed)
                path = sealed
            result.append(path)
        return result

    def read(self, path: Path) -> list[Document]:
        """The documents of one segment; torn or corrupt lines are skipped and counted."""
        docs: list[Document] = []
        corrupt = 0
        with open(path, "rb") as fh:
            for line in fh:
                doc = decode_line(line)
                if doc is None:
                    corrupt += 1
                else:
                    docs.append(doc)
        if corrupt:
            self.stats.drop("spool_corrupt", corrupt)
            _log.warning("skipped %d torn or corrupt lines in %s", corrupt, path)
        return docs

    @staticmethod
    def _count_lines(path: Path) -> int:
        try:
            with open(path, "rb") as fh:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        except FileNotFoundError:
            return 0

    def status(self) -> SpoolStatus:
        """Segments, records and bytes currently held (all processes)."""
        files = self._all_files()
        return SpoolStatus(
            directory=self.directory,
            segments=len(files),
            records=sum(self._count_lines(p) for p, _ in files),
            bytes=sum(size for _, size in files),
        )

    def pending_bytes(self) -> int:
        """Bytes on disk (cheap: no file is read)."""
        return sum(size for _, size in self._all_files())

    # -- replay ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _drain_lock(self) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / ".drain.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def replay(
        self,
        deliver: Deliver,
        *,
        batch_records: int = 500,
        batch_bytes: int = 5 * 1024 * 1024,
        should_stop: Callable[[], bool] = lambda: False,
        seal_own: bool = True,
    ) -> tuple[int, int]:
        """Re-sends sealed segments oldest first; returns (documents resolved, documents left).

        Stops at the first batch that cannot be delivered (the backend is still down) or when
        ``should_stop()``; what is left stays on disk. Only one process replays at a time.
        """
        if seal_own:
            self.seal()
        resolved = 0
        with self._drain_lock() as locked:
            if not locked:
                return 0, self.status().records
            for path in self.sealed_segments():
                try:
                    docs = self.read(path)
                except FileNotFoundError:  # dropped by another process's size bound meanwhile
                    continue
                left: list[Document] = []
                done = 0  # documents of this segment resolved so far (a prefix: we stop at the first left)
                try:
                    for chunk in _chunks(docs, batch_records, batch_bytes):
                        if left or should_stop():
                            left.extend(chunk)
                            continue
                        undelivered = deliver(chunk)
                        resolved += len(chunk) - len(undelivered)
                        left.extend(undelivered)
                        done += len(chunk)
                except BaseException:
                    # Interrupted (Ctrl-C on `spool drain`, an error): keep what was not confirmed, so
                    # the next drain neither loses it nor sends the delivered part again.
                    if done and not left:
                        self._rewrite(path, docs[done:])
                    raise
                if left:
                    self._rewrite(path, left)
                    return resolved, self.status().records
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return resolved, 0

    def _rewrite(self, path: Path, docs: list[Document]) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(b"".join(encode_line(d) for d in docs))
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)


def _newest_fitting(lines: list[bytes], max_bytes: int) -> list[bytes]:
    kept: list[bytes] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) > max_bytes:
            break
        kept.append(line)
        size += len(line)
    kept.reverse()
    return kept


def _chunks(docs: list[Document], max_records: int, max_bytes: int) -> Iterator[list[Document]]:
    chunk: list[Document] = []
    size = 0
    for doc in docs:
        if chunk and (len(chunk) >= max_records or size + doc.size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(doc)
        size += doc.size
    if chunk:
        yield chunk
