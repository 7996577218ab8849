"""The logging handler the bridge puts on the root logger.

Built on the handler of ``opentelemetry-instrumentation-logging`` (the SDK's own ``LoggingHandler`` is
deprecated in 1.45), with two additions: the feedback-loop filter, and the live exception passed on
the OTel record so the Sentry exporter can build frames with local context instead of parsing text.

``emit`` runs on every logging call of the app, so it is written flat: the guard's three checks
inline, the OTel logger cached per ``logging`` logger name (the provider lookup it replaces costs
more than the checks add). ``benchmarks/instructions.py`` compares it with the upstream handler.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry._logs import NoOpLogger, get_logger
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_current
from opentelemetry.instrumentation.logging.handler import LoggingHandler

from otel_bridge._internal import guard

# Loggers cached per handler; a program that invents logger names without end only refills the cache.
_MAX_CACHED_LOGGERS = 1024


class BridgeLoggingHandler(LoggingHandler):
    """Translates ``logging`` records into OTel log records for the bridge's logger provider."""

    def __init__(self, level: int = logging.NOTSET, logger_provider: Any = None) -> None:
        super().__init__(level=level, logger_provider=logger_provider)
        self._otel_loggers: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # The feedback-loop guard: the bridge's own loggers, its threads, code under suppression.
        if record.name.partition(".")[0] in guard.OWN_LOGGER_ROOTS:
            return
        thread_name = record.threadName
        if thread_name and thread_name.startswith(guard.OWN_THREAD_PREFIXES):
            return
        if get_current().get(_SUPPRESS_INSTRUMENTATION_KEY):
            return
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
                translated = self._translate(record)
                exc_info = record.exc_info
                if exc_info and exc_info[1] is not None:
                    translated.exception = exc_info[1]
                logger.emit(translated)
        finally:
            self._is_emitting.reset(token)
