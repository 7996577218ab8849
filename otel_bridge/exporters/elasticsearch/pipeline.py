"""Records → documents → ``_bulk``, with the spool behind it: what the exporter and the processor share."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

from opentelemetry.sdk._logs import ReadableLogRecord, ReadWriteLogRecord

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.bulk import BulkSender, make_client, quiet
from otel_bridge.exporters.elasticsearch.dead_letter import DeadLetter
from otel_bridge.exporters.elasticsearch.documents import Document, IdWindow, record_time_ns, rescue, to_document
from otel_bridge.exporters.elasticsearch.index import IndexNamer, data_stream_parts
from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions
from otel_bridge.exporters.elasticsearch.spool import Spool

_log = logging.getLogger("otel_bridge.elasticsearch")

AnyRecord = Union[ReadableLogRecord, ReadWriteLogRecord]  # noqa: UP007 - a runtime alias on 3.10

# Reasons a batch could not be delivered *now* that mean "the backend is not taking writes".
_UNAVAILABLE = frozenset(
    {"unavailable", "retry_exhausted", "http_429", "http_502", "http_503", "http_504", "queue_pressure"}
)


def spool_directory(options: ElasticsearchOptions, name: str) -> Path | None:
    """The spool directory of exporter ``name`` (one subdirectory per exporter)."""
    return None if options.spool is None else Path(options.spool.directory) / name


class Pipeline:
    """Encodes records, sends them, and spools (or counts as dropped) what cannot be delivered.

    Not thread-safe: one worker thread (or the SDK's batch worker) drives it. ``stop`` interrupts
    retry waits; after it is set each batch gets one more attempt before it is spooled.
    """

    def __init__(
        self,
        options: ElasticsearchOptions,
        stats: ExporterStats,
        name: str = "elasticsearch",
        *,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.options = options
        self.stats = stats
        self.name = name
        self.clock = clock
        self.stop = threading.Event()
        self.namer = IndexNamer(options.index, options.routing)
        self.dead_letter = DeadLetter(options.dead_letter, options.dead_letter_max_bytes)
        self._own_client = client is None
        self.sender = BulkSender(
            client if client is not None else make_client(options),
            options.retry,
            stats,
            self.dead_letter,
            self.stop,
            request_timeout=options.request_timeout,
            clock=clock,
            rand=rand,
            rescue=rescue if options.on_mapping_error == "rescue" else None,
        )
        directory = spool_directory(options, name)
        self.spool: Spool | None = None
        if directory is not None and options.spool is not None:
            self.spool = Spool(directory, options.spool.max_bytes, stats, fsync=options.spool.fsync)
        self._down_until = 0.0
        self._warned: dict[str, float] = {}
        self._next_replay = 0.0  # replay a backlog left by an earlier run right away
        self._ids = IdWindow()
        stats.extra["dead_lettered"] = lambda: self.sender.dead_lettered
        stats.extra["failure_store"] = lambda: self.sender.failure_store_used
        stats.extra["already_delivered"] = lambda: self.sender.already_delivered
        stats.extra["rescued"] = lambda: self.sender.rescued
        if self.spool is not None:
            spool = self.spool
            stats.extra["spool_bytes"] = spool.pending_bytes

    @property
    def client(self) -> Any:
        """The ``elasticsearch`` client in use."""
        return self.sender.client

    def encode(self, records: Sequence[AnyRecord]) -> list[Document]:
        """Documents for ``records``; a record that cannot be encoded is counted, never raised."""
        docs: list[Document] = []
        for record in records:
            try:
                lr = record.log_record
                resource = record.resource.attributes if record.resource is not None else None
                index = self.namer.name(record_time_ns(record), lr.attributes, resource)  # type: ignore[arg-type]
                doc = to_document(
                    record,  # type: ignore[arg-type]
                    index,
                    self.options.mapping,
                    data_stream_parts(index),
                    self.options.max_value_chars,
                )
            except Exception as exc:
                self.stats.drop("encode_error")
                _log.warning("cannot encode a log record: %r", exc)
                continue
            docs.append(self._ids.unique(doc))  # two identical emissions: both are kept
        return docs

    def down(self) -> bool:
        """True while the backend is known to be down and a spool takes the writes."""
        return self.spool is not None and self.clock() < self._down_until

    def deliver(
        self, docs: list[Document], deadline: float | None = None, give_up: Callable[[], bool] | None = None
    ) -> bool:
        """Sends ``docs``; what is left goes to the spool or is counted as dropped. True if all resolved."""
        if not docs:
            return True
        if self.down():
            self._keep(docs, "backend_down")
            return False
        if self.spool is not None and self._down_until and deadline is None:
            deadline = self.clock() + min(self.options.request_timeout, self.options.retry.max_elapsed)
        result = self.sender.send(docs, deadline, give_up)
        if not result.left:
            self._down_until = 0.0
            self.stats.state = "ok"
            return True
        self._keep(result.left, result.reason)
        return False

    def set_aside(self, docs: list[Document], reason: str) -> None:
        """Spools ``docs`` without sending them (or counts them as dropped for ``reason``)."""
        if docs:
            self._keep(docs, reason)

    def _keep(self, docs: list[Document], reason: str) -> None:
        unavailable = reason in _UNAVAILABLE or reason == "backend_down"
        if unavailable:
            self.stats.state = "spooling" if self.spool is not None else "unavailable"
        if self.spool is not None:
            if unavailable:
                interval = self.options.spool.replay_interval if self.options.spool else 30.0
                self._down_until = self.clock() + interval
                self._next_replay = self._down_until
            self.spool.append(docs)
            return
        self.stats.drop(reason or "undeliverable", len(docs))
        now = self.clock()
        if reason != "shutdown" and now >= self._warned.get(reason, 0.0):
            self._warned[reason] = now + 60.0  # at most one warning a minute per reason
            _log.warning("dropped %d log records: %s (no spool configured)", len(docs), reason)

    def replay_due(self) -> bool:
        """True when the spool should be tried again now."""
        return self.spool is not None and not self.stop.is_set() and self.clock() >= self._next_replay

    def replay(self, should_stop: Callable[[], bool] = lambda: False) -> tuple[int, int]:
        """Re-sends the spool: (documents resolved, documents left)."""
        spool = self.spool
        if spool is None:
            return 0, 0
        interval = self.options.spool.replay_interval if self.options.spool else 30.0
        self._next_replay = self.clock() + interval
        batch = self.options.batch

        def deliver(docs: list[Document]) -> list[Document]:
            result = self.sender.send(docs, None, should_stop)
            if result.left and result.reason in _UNAVAILABLE:
                self._down_until = self.clock() + interval
            return result.left

        resolved, left = spool.replay(
            deliver,
            batch_records=batch.max_export_batch_size,
            batch_bytes=batch.max_export_batch_bytes,
            should_stop=lambda: self.stop.is_set() or should_stop(),
        )
        if resolved:
            _log.info("re-sent %d spooled log records (%d left)", resolved, left)
        if not left:
            self._down_until = 0.0
        return resolved, left

    def after_fork(self) -> None:
        """Fresh locks, client connections and spool segment for a forked child process."""
        self.stop = threading.Event()
        self.sender.stop = self.stop
        self.sender.sleep = self.stop.wait
        if self._own_client:
            self.sender.client = make_client(self.options)
        if self.spool is not None:
            self.spool.after_fork()

    def setup(self) -> bool:
        """Installs the index template (``setup: true``); never raises."""
        from otel_bridge.exporters.elasticsearch import template

        with_timeout = quiet(self.client.options(request_timeout=self.options.request_timeout))
        return template.install(with_timeout, self.name, self.namer, self.options.mapping)

    def close(self) -> None:
        """Seals the spool segment so the next run (or ``spool drain``) sees it."""
        self.stop.set()
        if self.spool is not None:
            self.spool.seal()
