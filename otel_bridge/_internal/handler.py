"""The logging handler the bridge puts on the root logger.

Built on the handler of ``opentelemetry-instrumentation-logging`` (the SDK's own ``LoggingHandler`` is
deprecated in 1.45), with two additions: the feedback-loop filter, and the live exception passed on
the OTel record so the Sentry exporter can build frames with local context instead of parsing text.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry._logs import LogRecord, NoOpLogger, get_logger
from opentelemetry.instrumentation.logging.handler import LoggingHandler

from otel_bridge._internal.guard import is_own_record

# Loggers cached per handler; a program that invents logger names without end only refills the cache.
_MAX_CACHED_LOGGERS = 1024


class BridgeLoggingHandler(LoggingHandler):
    """Translates ``logging`` records into OTel log records for the bridge's logger provider.

    Compared with the upstream handler it also caches the OTel logger per ``logging`` logger name:
    the provider lookup costs more per record than the feedback-loop filter, so the app's logging
    call through the bridge costs no more than through the bare handler (benchmarks/hot_path.py).
    """

    def __init__(self, level: int = logging.NOTSET, logger_provider: Any = None) -> None:
        super().__init__(level=level, logger_provider=logger_provider)
        self._otel_loggers: dict[str, Any] = {}

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

    def emit(self, record: logging.LogRecord) -> None:
        # The upstream recursion guard is kept: a record logged while translating is skipped.
        if self._is_emitting.get():
            return
        token = self._is_emitting.set(True)
        try:
            logger = self._otel_loggers.get(record.name)
            if logger is None:
                logger = get_logger(record.name, logger_provider=self._logger_provider)
                if len(self._otel_loggers) >= _MAX_CACHED_LOGGERS:
                    self._otel_loggers.clear()
                self._otel_loggers[record.name] = logger
            if not isinstance(logger, NoOpLogger):
                logger.emit(self._translate(record))
        finally:
            self._is_emitting.reset(token)
