"""The dead-letter file: documents Elasticsearch refused for good, one JSON line each, with the reason."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from otel_bridge.exporters.elasticsearch._append import append_whole
from otel_bridge.exporters.elasticsearch.documents import Document

_log = logging.getLogger("otel_bridge.elasticsearch")


class DeadLetter:
    """Appends refused documents to ``path`` (NDJSON), bounded by ``max_bytes``.

    Each line: ``{"time", "index", "id", "status", "error": {"type", "reason"}, "document"}``.
    Without a path the documents are only counted and logged (once per error type).
    """

    def __init__(self, path: Path | None, max_bytes: int = 100 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self._full_logged = False
        self.written = 0

    def add(self, doc: Document, status: int, error: dict[str, Any]) -> bool:
        """Keeps ``doc``; returns False when it could not be written (no path, full, I/O error)."""
        kind = str(error.get("type", "unknown"))
        if kind not in self._logged:
            self._logged.add(kind)
            _log.warning(
                "elasticsearch refused a document (%s, status %s): %s%s",
                kind,
                status,
                str(error.get("reason", ""))[:300],
                f"; kept in {self.path}" if self.path else "",
            )
        if self.path is None:
            return False
        try:
            source: Any = json.loads(doc.source)
        except ValueError:
            source = doc.source.decode("utf-8", "replace")
        line = json.dumps(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "index": doc.index,
                "id": doc.id,
                "status": status,
                "error": {"type": kind, "reason": error.get("reason")},
                "document": source,
            },
            ensure_ascii=False,
        ).encode("utf-8", "surrogatepass")
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                size = self.path.stat().st_size if self.path.exists() else 0
                if size + len(line) + 1 > self.max_bytes:
                    if not self._full_logged:
                        self._full_logged = True
                        _log.warning(
                            "dead-letter file %s reached its size limit (%d bytes): further refused documents "
                            "are only counted (failed)",
                            self.path,
                            self.max_bytes,
                        )
                    return False
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    append_whole(fd, line + b"\n")
                finally:
                    os.close(fd)
            except OSError as exc:
                _log.warning("cannot write the dead-letter file %s: %s", self.path, exc)
                return False
            self.written += 1
        return True


def read_dead_letters(path: Path) -> list[dict[str, Any]]:
    """Every entry of a dead-letter file (for tools and tests)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
