"""The Elasticsearch log exporter (SDK ``LogRecordExporter``) and its non-blocking processor.

Configured from YAML, the bridge uses :class:`ElasticsearchLogProcessor`: ``on_emit`` only appends
to a queue bounded in records *and* bytes (a full queue drops and counts), and one background thread
encodes, sends, retries, spools and replays. The app's ``logger.info()`` never waits on the network.

:class:`ElasticsearchLogExporter` is the same machinery behind the plain SDK exporter interface, for
``OTEL_LOGS_EXPORTER=elasticsearch`` (entry point ``opentelemetry_logs_exporter``); built with no
arguments it reads its settings from the environment (see :func:`options_from_env`).
"""

from __future__ import annotations

import atexit
import collections
import copy
import logging
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_bridge._internal import guard
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.documents import Document
from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions, EsBatchOptions, describe
from otel_bridge.exporters.elasticsearch.pipeline import AnyRecord, Pipeline

_log = logging.getLogger("otel_bridge.elasticsearch")

# Environment variables read by ElasticsearchLogExporter() (documented in docs/elasticsearch.md).
ENV = {
    "hosts": "ELASTICSEARCH_URL",
    "cloud_id": "ELASTICSEARCH_CLOUD_ID",
    "api_key": "ELASTICSEARCH_API_KEY",
    "username": "ELASTICSEARCH_USERNAME",
    "password": "ELASTICSEARCH_PASSWORD",
    "ca_certs": "ELASTICSEARCH_CA_CERTS",
    "verify_certs": "ELASTICSEARCH_VERIFY_CERTS",
    "index": "OTEL_BRIDGE_ES_INDEX",
    "mapping": "OTEL_BRIDGE_ES_MAPPING",
    "dead_letter": "OTEL_BRIDGE_ES_DEAD_LETTER",
    "spool.directory": "OTEL_BRIDGE_ES_SPOOL_DIR",
    "spool.max_bytes": "OTEL_BRIDGE_ES_SPOOL_MAX_BYTES",
    "retry.max_elapsed": "OTEL_BRIDGE_ES_RETRY_MAX_ELAPSED",
    "shutdown_timeout": "OTEL_BRIDGE_ES_SHUTDOWN_TIMEOUT",
}


def options_from_env(environ: Mapping[str, str] | None = None) -> ElasticsearchOptions:
    """Options from ``ELASTICSEARCH_*`` / ``OTEL_BRIDGE_ES_*`` variables (unset ones keep defaults)."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {"type": "elasticsearch"}
    for key, var in ENV.items():
        value = env.get(var)
        if not value:
            continue
        if "." in key:
            outer, inner = key.split(".", 1)
            raw.setdefault(outer, {})[inner] = value
        else:
            raw[key] = value
    if "verify_certs" in raw:
        raw["verify_certs"] = str(raw["verify_certs"]).strip().lower() not in ("0", "false", "no", "off")
    return ElasticsearchOptions.model_validate(raw)


def _size_of(record: AnyRecord) -> int:
    """A cheap estimate of the memory and bulk bytes one queued record stands for."""
    lr = record.log_record
    size = 600  # the record objects themselves
    body = lr.body
    size += len(body) if isinstance(body, (str, bytes)) else 64
    for key, value in (lr.attributes or {}).items():
        size += len(key) + (len(value) if isinstance(value, (str, bytes)) else 16)
    return size


def _cut_long_values(lr: Any, max_chars: int) -> None:
    """Cuts the body and attribute strings/bytes the document would cut anyway, in the queue's copy.

    Cut to just over ``max_chars`` (bytes: enough for the kept base64 prefix), so the document, and its
    ``_id``, come out exactly as from the whole value; the queue then neither holds the huge value nor
    drops its record for taking the whole byte budget.
    """
    keep_text, keep_bytes = max_chars + 1, max_chars + 3

    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > keep_text:
            return value[:keep_text]
        if isinstance(value, (bytes, bytearray)) and len(value) > keep_bytes:
            return bytes(value[:keep_bytes])
        return value

    lr.body = cut(lr.body)
    attributes = lr.attributes
    if attributes and any(cut(v) is not v for v in attributes.values()):
        lr.attributes = {key: cut(value) for key, value in attributes.items()}  # never the caller's object


class ElasticsearchLogProcessor(LogRecordProcessor):
    """Bounded queue + one background sender thread (see the module docstring)."""

    def __init__(self, pipeline: Pipeline, batch: EsBatchOptions, shutdown_timeout: float = 5.0) -> None:
        self._pipeline = pipeline
        self._stats = pipeline.stats
        self._batch = batch
        self._shutdown_timeout = shutdown_timeout
        self._max_chars = pipeline.options.max_value_chars
        self._queue: collections.deque[tuple[AnyRecord, int]] = collections.deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._flush_waiters: list[threading.Event] = []
        self._busy = False
        self._inflight: list[Document] = []
        self._closing = False
        self._closed = False
        self._deadline: float | None = None
        self._stats.add_queue_probe(lambda: len(self._queue))
        self._thread = guard.start_thread(f"elasticsearch-{pipeline.name}", self._run)
        # gunicorn & co. fork after configuring: the child needs its own thread, client and spool file.
        after_fork = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: _call(after_fork))

    # -- application threads ---------------------------------------------------------------------

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queues the record or counts it as dropped; never blocks on I/O, never raises."""
        try:
            if self._closing:
                self._stats.drop("shutdown")
                return
            api_record = copy.copy(log_record.log_record)
            api_record.context = Context()  # do not keep the caller's context alive in the queue
            record = ReadableLogRecord(
                log_record=api_record,
                resource=log_record.resource,  # type: ignore[arg-type]
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
            size = _size_of(record)
            if size > 600 + self._max_chars:  # some value is longer than the document will keep
                _cut_long_values(api_record, self._max_chars)
                size = _size_of(record)
            batch = self._batch
            with self._cond:
                if len(self._queue) >= batch.max_queue_size or self._bytes + size > batch.max_queue_bytes:
                    self._stats.drop("queue_full")
                    return
                self._queue.append((record, size))
                self._bytes += size
                if len(self._queue) >= batch.max_export_batch_size or self._bytes >= batch.max_export_batch_bytes:
                    self._cond.notify()
        except Exception:
            self._stats.drop("error")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Waits until everything queued before the call is delivered, spooled or dropped."""
        if self._closed:
            return True
        done = threading.Event()
        with self._cond:
            if not self._queue and not self._busy:
                return True
            self._flush_waiters.append(done)
            self._cond.notify()
        return done.wait(timeout_millis / 1000)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Sends what is queued until the shutdown timeout, spools the rest, stops. Idempotent."""
        if self._closing:
            return
        timeout = self._shutdown_timeout if timeout_millis is None else timeout_millis / 1000
        with self._cond:
            self._deadline = self._pipeline.clock() + max(0.0, timeout - 0.2)
            self._closing = True
            self._pipeline.stop.set()
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Stuck in a request to a host that does not answer: save what we hold ourselves.
            # Spooling the in-flight batch too is safe: a replay of a delivered document answers 409.
            _log.warning("elasticsearch exporter %s: sender still busy at shutdown", self._pipeline.name)
            self._save_at_shutdown()
        self._closed = True
        self._pipeline.close()

    def _save_at_shutdown(self) -> None:
        with self._cond:
            records = [record for record, _ in self._queue]
            self._queue.clear()
            self._bytes = 0
        pipeline = self._pipeline
        try:
            docs = list(self._inflight) + pipeline.encode(records)
            if pipeline.spool is not None:
                pipeline.spool.append(docs)
            else:
                self._stats.drop("shutdown", len(records))
        except Exception as exc:
            self._stats.drop("shutdown", len(records))
            _log.warning("could not save the queue at shutdown: %r", exc)

    # -- the sender thread -----------------------------------------------------------------------

    def _take(self) -> list[AnyRecord]:
        batch = self._batch
        taken: list[AnyRecord] = []
        size = 0
        while self._queue and len(taken) < batch.max_export_batch_size:
            record, rsize = self._queue[0]
            if taken and size + rsize > batch.max_export_batch_bytes:
                break
            self._queue.popleft()
            self._bytes -= rsize
            size += rsize
            taken.append(record)
        return taken

    def _pressure(self) -> bool:
        # With a spool, stop retrying a batch once the queue is half full: spool it and move on.
        return self._pipeline.spool is not None and len(self._queue) * 2 >= self._batch.max_queue_size

    def _run(self) -> None:
        delay = self._batch.schedule_delay_ms / 1000
        pipeline = self._pipeline
        if pipeline.options.setup:
            try:
                pipeline.setup()
            except Exception as exc:
                _log.warning("index template setup failed: %r", exc)
        while True:
            with self._cond:
                if (
                    not self._closing
                    and not self._flush_waiters
                    and len(self._queue) < self._batch.max_export_batch_size
                ):
                    self._cond.wait(delay)
                records = self._take()
                self._busy = bool(records)
                closing = self._closing
                if not records:
                    self._release_waiters()
            if records:
                try:
                    docs = pipeline.encode(records)
                    self._inflight = docs
                    pipeline.deliver(docs, self._deadline if closing else None, self._pressure)
                except Exception as exc:  # the thread must survive anything
                    self._stats.drop("error", len(records))
                    _log.warning("elasticsearch sender error: %r", exc)
                finally:
                    self._inflight = []
            elif closing:
                return
            # Also under steady traffic: a backlog is retried every spool.replay_interval.
            if not closing and pipeline.replay_due():
                try:
                    pipeline.replay(lambda: self._closing or len(self._queue) >= self._batch.max_export_batch_size)
                except Exception as exc:
                    _log.warning("spool replay error: %r", exc)

    def _release_waiters(self) -> None:
        self._busy = False
        for waiter in self._flush_waiters:
            waiter.set()
        self._flush_waiters.clear()

    def _after_fork(self) -> None:
        # Runs in the child right after fork(), single-threaded: no thread, lock or socket is shared.
        if self._closing:
            return
        self._pipeline.after_fork()
        self._cond = threading.Condition()
        self._queue.clear()
        self._bytes = 0
        self._flush_waiters = []
        self._thread = guard.start_thread(f"elasticsearch-{self._pipeline.name}", self._run)


def _call(ref: weakref.WeakMethod[Any]) -> None:
    method = ref()
    if method is not None:
        method()


class ElasticsearchLogExporter(LogRecordExporter):
    """SDK exporter: sends each batch synchronously (retries, then spool); replays the spool on the way.

    ``ElasticsearchLogExporter()`` with no arguments reads :func:`options_from_env`.
    """

    def __init__(
        self,
        options: ElasticsearchOptions | None = None,
        *,
        name: str = "elasticsearch",
        stats: ExporterStats | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        if pipeline is None:
            # Standalone, behind the SDK's own logging handler: nothing else keeps our client's log
            # records from being exported again, so drop them at the client loggers.
            guard.quiet_client_loggers()
            options = options if options is not None else options_from_env()
            stats = stats or ExporterStats(name, "elasticsearch", describe(options))
            pipeline = Pipeline(options, stats, name)
        self._pipeline = pipeline
        self._lock = threading.Lock()
        self._shutdown = False
        self._exit_deadline: float | None = None
        # The SDK's LoggerProvider registers its atexit shutdown before it builds us, so this hook runs
        # first: its BatchLogRecordProcessor would otherwise wait up to 30 s for an export() stuck in
        # retries before it calls our shutdown(), then exit with the batch and its queue unsaved.
        at_exit = weakref.WeakMethod(self.begin_shutdown)
        self._at_exit = lambda: _call(at_exit)
        atexit.register(self._at_exit)

    @property
    def pipeline(self) -> Pipeline:
        """The shared send/spool machinery."""
        return self._pipeline

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Delivers ``batch``; FAILURE when something was spooled, dropped or refused. Never raises."""
        if self._shutdown:
            self._pipeline.stats.drop("shutdown", len(batch))
            return LogRecordExportResult.FAILURE
        try:
            with self._lock, guard.suppressed():
                pipeline = self._pipeline
                docs = pipeline.encode(batch)
                deadline = self._exit_deadline
                if deadline is not None and pipeline.clock() >= deadline:
                    pipeline.set_aside(docs, "shutdown")  # exiting, time is up: spool (or count) at once
                    return LogRecordExportResult.FAILURE
                ok = pipeline.deliver(docs, deadline) and len(docs) == len(batch)
                if ok and self._pipeline.replay_due():
                    self._pipeline.replay()
            return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE
        except Exception as exc:
            _log.warning("elasticsearch export failed: %r", exc)
            return LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: every ``export`` call finishes its own batch."""
        return True

    def begin_shutdown(self) -> None:
        """Starts a shutdown bounded by ``shutdown_timeout`` (runs at interpreter exit).

        Retries are interrupted; each later ``export`` gets one attempt within the time left, and once
        it is spent batches go straight to the spool (or are counted as ``shutdown`` drops).
        """
        if self._exit_deadline is None:
            self._exit_deadline = self._pipeline.clock() + self._pipeline.options.shutdown_timeout
            self._pipeline.stop.set()

    def shutdown(self) -> None:
        """Interrupts retries and seals the spool. Idempotent."""
        if self._shutdown:
            return
        self._shutdown = True
        atexit.unregister(self._at_exit)
        self._pipeline.close()
