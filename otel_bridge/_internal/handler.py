"""The logging handler the bridge puts on the root logger.

Built on the handler of ``opentelemetry-instrumentation-logging`` (the SDK's own ``LoggingHandler`` is
deprecated in 1.45), with two additions: the feedback-loop filter, and the live exception passed on
the OTel record so the Sentry exporter can build frames with local context instead of parsing text.
"""

from __future__ import annotations

import logging

from opentelemetry._logs import LogRecord
from opentelemetry.instrumentation.logging.handler import LoggingHandler

from otel_bridge._internal.guard import is_own_record


class BridgeLoggingHandler(LoggingHandler):
    """Translates ``logging`` records into OTel log records for the bridge's logger provider."""

    def filter(self, record: logging.LogRecord) -> bool:
        if is_own_record(record):
            return False
        return super().filter(record)  # type: ignore[return-value]

    def _translate(self, record: logging.LogRecord) -> LogRecord:
        translated = super()._translate(record)
        exc_info = record.exc_info
        if exc_info and exc_info[1] is not None:
            translated.exception = exc_info[1]
        return translated
