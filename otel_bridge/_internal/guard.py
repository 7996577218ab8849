"""Feedback-loop guards: records our own machinery produces are never exported again.

Three layers (DESIGN "Never hurt the app"):

1. export I/O runs under OTel's suppress-instrumentation context (:func:`suppressed`), so HTTP
   client instrumentations skip it and the logging handler drops what is logged inside it;
2. records from the bridge's own loggers and the exporters' client libraries are dropped by name;
3. records logged on the bridge's own background threads are dropped by thread name.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, get_value, set_value

# Top-level logger names whose records never go to an exporter. ``opentelemetry`` covers the SDK's
# own "export failed" / "queue full" warnings, which would otherwise re-enter the queue they describe.
OWN_LOGGER_ROOTS = frozenset({"otel_bridge", "opentelemetry", "sentry_sdk", "elastic_transport", "elasticsearch"})

# Threads whose every record is ours: the bridge's workers and the Sentry SDK transport worker.
OWN_THREAD_PREFIXES: tuple[str, ...] = ("otel-bridge", "OtelBatch", "OtelPeriodic", "sentry-sdk")


@contextlib.contextmanager
def suppressed() -> Iterator[None]:
    """Runs the block under OTel's suppress-instrumentation flag."""
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        detach(token)


def start_thread(name: str, target: Callable[[], None]) -> threading.Thread:
    """Starts a daemon worker named ``otel-bridge-<name>`` whose whole life is suppressed."""

    def run() -> None:
        with suppressed():
            target()

    thread = threading.Thread(target=run, name=f"otel-bridge-{name}", daemon=True)
    thread.start()
    return thread


# The loggers our exporters' HTTP clients write to. Filters on a logger only see records created on
# that exact logger, so the children are named one by one.
CLIENT_LOGGERS = (
    "elastic_transport",
    "elastic_transport.node",
    "elastic_transport.node_pool",
    "elastic_transport.transport",
    "elasticsearch",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "sentry_sdk.errors",
    "sentry_sdk.envelopes",
)


class _OwnWorkFilter(logging.Filter):
    """Drops records our own threads or suppressed export code produce, for every handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        thread_name = record.threadName
        if thread_name and thread_name.startswith(OWN_THREAD_PREFIXES):
            return False
        return not get_value(_SUPPRESS_INSTRUMENTATION_KEY)


_CLIENT_FILTER = _OwnWorkFilter()


def quiet_client_loggers() -> None:
    """Standalone use (``OTEL_LOGS_EXPORTER=elasticsearch`` with the SDK's own handler): that handler
    has no feedback-loop filter, so the client loggers drop, at the source, what our export threads
    log. Records the app's own use of these clients produces on its threads pass. Idempotent."""
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if _CLIENT_FILTER not in logger.filters:
            logger.addFilter(_CLIENT_FILTER)
