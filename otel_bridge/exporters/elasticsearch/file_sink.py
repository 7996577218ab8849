"""The ``file`` exporter type: log documents as Elasticsearch ``_bulk`` NDJSON on local disk.

Each record is two lines, ``{"create": {"_index": …, "_id": …}}`` and the document, exactly what the
``elasticsearch`` type would send, so a file loads as it is::

    curl -H 'Content-Type: application/x-ndjson' --data-binary @logs.ndjson http://localhost:9200/_bulk

Loading the same file twice creates nothing new (fixed ``_id`` + ``create`` → 409). Needs no
``elasticsearch`` package.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from pydantic import Field, field_validator

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.base import BuildContext, ExporterOptions, ExporterSpec
from otel_bridge.exporters.elasticsearch._append import append_whole
from otel_bridge.exporters.elasticsearch.documents import IdWindow
from otel_bridge.exporters.elasticsearch.index import IndexNamer, data_stream_parts
from otel_bridge.exporters.elasticsearch.options import Mapping, RoutingOptions, check_index_name, parse_size

_log = logging.getLogger("otel_bridge.file")


class FileOptions(ExporterOptions):
    """The ``file`` exporter entry."""

    path: Path = Field(description="NDJSON file; relative paths are relative to the config file.")
    index: str = "logs-otel_bridge-default"
    mapping: Mapping = "ecs"
    routing: RoutingOptions | None = None
    max_bytes: int | None = Field(None, gt=0, description="Rotate when the file would grow past this.")
    backups: int = Field(3, ge=0, description="Rotated files kept: path.1 (newest) … path.N.")
    max_value_chars: int = Field(256 * 1024, gt=0)

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return None if value is None else parse_size(value)

    @field_validator("index")
    @classmethod
    def _index(cls, value: str) -> str:
        return check_index_name(value)


class BulkFileExporter(LogRecordExporter):
    """Appends ``_bulk`` NDJSON; rotates by size; counts into ``stats``; never raises from ``export``."""

    def __init__(self, options: FileOptions, stats: ExporterStats | None = None) -> None:
        self.options = options
        self.path = Path(options.path)
        self.stats = stats or ExporterStats("file", "file", str(options.path))
        self._namer = IndexNamer(options.index, options.routing)
        self._ids = IdWindow()
        self._lock = threading.Lock()
        self._shutdown = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Writes ``batch`` as action + source line pairs."""
        if self._shutdown:
            self.stats.drop("shutdown", len(batch))
            return LogRecordExportResult.FAILURE
        from otel_bridge.exporters.elasticsearch.documents import record_time_ns, to_document

        chunks: list[bytes] = []
        for record in batch:
            try:
                lr = record.log_record
                resource = record.resource.attributes if record.resource is not None else None
                index = self._namer.name(record_time_ns(record), lr.attributes, resource)
                doc = to_document(
                    record, index, self.options.mapping, data_stream_parts(index), self.options.max_value_chars
                )
            except Exception as exc:
                self.stats.drop("encode_error")
                _log.warning("cannot encode a log record: %r", exc)
                continue
            doc = self._ids.unique(doc)  # two identical emissions: both are kept
            chunks.append(doc.action() + b"\n" + doc.source + b"\n")
        if not chunks:
            return LogRecordExportResult.SUCCESS if not batch else LogRecordExportResult.FAILURE
        data = b"".join(chunks)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._rotate_if_needed(len(data))
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    append_whole(fd, data)
                finally:
                    os.close(fd)
        except OSError as exc:
            self.stats.add("failed", len(chunks))
            _log.warning("cannot write %s: %s", self.path, exc)
            return LogRecordExportResult.FAILURE
        self.stats.add("sent", len(chunks))
        return LogRecordExportResult.SUCCESS if len(chunks) == len(batch) else LogRecordExportResult.FAILURE

    def _rotate_if_needed(self, incoming: int) -> None:
        limit = self.options.max_bytes
        if limit is None or not self.path.exists() or self.path.stat().st_size + incoming <= limit:
            return
        backups = self.options.backups
        if backups == 0:
            self.path.unlink()
            return
        for i in range(backups, 0, -1):
            src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i}"))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Every ``export`` writes through; nothing to flush."""
        return True

    def shutdown(self) -> None:
        """Stops accepting batches. Idempotent."""
        self._shutdown = True


def _build(ctx: BuildContext) -> BulkFileExporter:
    options: FileOptions = ctx.options
    if not options.path.is_absolute() and ctx.config_dir is not None:
        options = options.model_copy(update={"path": ctx.config_dir / options.path})
    if not ctx.stats.target:
        ctx.stats.target = str(options.path)
    return BulkFileExporter(options, ctx.stats)


SPEC = ExporterSpec(
    type="file",
    signals=frozenset({"logs"}),
    options=FileOptions,
    build=_build,
    describe=lambda options: f"{options.path} (_bulk NDJSON, {options.mapping})",
    counts_itself=True,
)
