"""Step three of three, and the only one with side effects: globals, the root handler, atexit.

The global providers are our re-pointable proxies (see ``_internal/proxies.py``), installed once per
process. Each ``configure_otel()`` shuts the previous bridge down, re-points the proxies and swaps
the root handler, so handlers and processors never stack.
"""

from __future__ import annotations

import atexit
import functools
import logging
import logging.config
import os
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider

from otel_bridge._internal.handler import BridgeLoggingHandler
from otel_bridge._internal.proxies import ProxyLoggerProvider, ProxyMeterProvider, ProxyTracerProvider
from otel_bridge.bridge import Bridge
from otel_bridge.providers import Built

_log = logging.getLogger("otel_bridge")

EXIT_TIMEOUT_ENV = "OTEL_BRIDGE_SHUTDOWN_TIMEOUT"

_lock = threading.RLock()
_tracers = ProxyTracerProvider()
_loggers = ProxyLoggerProvider()
_meters = ProxyMeterProvider()
_globals_owned: bool | None = None
_current: Bridge | None = None
_handlers: dict[int, tuple[BridgeLoggingHandler, int | None]] = {}
_atexit_registered = False


def current() -> Bridge | None:
    """The bridge installed last, if it is still running."""
    return _current


def _install_globals() -> bool:
    """Sets our proxies as the global providers once; False if someone else set one first."""
    global _globals_owned
    if _globals_owned is None:
        trace.set_tracer_provider(_tracers)
        metrics.set_meter_provider(_meters)
        _logs.set_logger_provider(_loggers)
        owned = (
            trace.get_tracer_provider() is _tracers
            and metrics.get_meter_provider() is _meters
            and _logs.get_logger_provider() is _loggers
        )
        if not owned:
            _log.warning(
                "another OpenTelemetry provider was installed globally before configure_otel(); "
                "use Bridge.tracer_provider / meter_provider / logger_provider explicitly"
            )
        _globals_owned = owned
    return _globals_owned


def _detach(bridge: Bridge) -> None:
    """Runs first in ``Bridge.shutdown``: the app stops feeding a bridge that is going away."""
    global _current
    with _lock:
        entry = _handlers.pop(id(bridge), None)
        root = logging.getLogger()
        if entry is not None:
            handler, lowered_from = entry
            root.removeHandler(handler)
            if lowered_from is not None and root.level == handler.level:
                root.setLevel(lowered_from)
        if _current is bridge:
            _current = None
            _tracers.set_delegate(NoOpTracerProvider())
            _meters.set_delegate(NoOpMeterProvider())
            _loggers.set_delegate(NoOpLoggerProvider())


def install(built: Built, source: str) -> Bridge:
    """Makes ``built`` the process's telemetry pipeline and returns its :class:`Bridge`."""
    global _current
    with _lock:
        previous = _current
        if previous is not None:
            previous.shutdown(timeout_s=_exit_timeout())
        bridge = Bridge(
            tracer_provider=built.tracer_provider,
            logger_provider=built.logger_provider,
            meter_provider=built.meter_provider,
            stats=built.stats,
            source=source,
            on_shutdown=_detach,
        )
        bridge.installed_globally = _install_globals()
        _tracers.set_delegate(built.tracer_provider)
        _meters.set_delegate(built.meter_provider)
        _loggers.set_delegate(built.logger_provider)
        handler = BridgeLoggingHandler(level=built.log_level, logger_provider=built.logger_provider)
        root = logging.getLogger()
        lowered_from = None
        if root.level > built.log_level:
            # Without this, the root logger's WARNING default would hide every INFO record from us.
            lowered_from = root.level
            root.setLevel(built.log_level)
        root.addHandler(handler)
        _handlers[id(bridge)] = (handler, lowered_from)
        _current = bridge
        _register_atexit()
        _wrap_logging_config()
    for start in built.starters:
        try:
            start()
        except Exception as exc:  # a start hook (e.g. spool replay) must never break startup
            _log.warning("exporter start hook failed: %s", exc)
    return bridge


def install_disabled(source: str) -> Bridge:
    """``OTEL_SDK_DISABLED=true``: a bridge with no-op providers and nothing installed."""
    global _current
    with _lock:
        if _current is not None:
            _current.shutdown(timeout_s=_exit_timeout())
        return Bridge(
            tracer_provider=NoOpTracerProvider(),
            logger_provider=NoOpLoggerProvider(),
            meter_provider=NoOpMeterProvider(),
            source=source,
            disabled=True,
        )


def _exit_timeout() -> float:
    try:
        return float(os.environ.get(EXIT_TIMEOUT_ENV, "5"))
    except ValueError:
        return 5.0


def _at_exit() -> None:
    bridge = _current
    if bridge is not None:
        bridge.shutdown(timeout_s=_exit_timeout())


def _current_handler() -> BridgeLoggingHandler | None:
    bridge = _current
    entry = _handlers.get(id(bridge)) if bridge is not None else None
    return entry[0] if entry is not None else None


def _keep_handler(config_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a logging configuration function so it neither removes nor sees our root handler.

    Under ``opentelemetry-instrument`` the bridge is configured before the app's own code runs; an
    app that then calls ``dictConfig`` (Django, uvicorn …) would drop our handler, and one that calls
    ``basicConfig`` would find a handler on the root and do nothing. So the handler steps aside while
    the function runs and comes back after, with the root level lowered to ``logs.level`` again.
    """

    @functools.wraps(config_fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        handler = _current_handler()
        root = logging.getLogger()
        if handler is not None:
            root.removeHandler(handler)
        try:
            return config_fn(*args, **kwargs)
        finally:
            if handler is not None and handler is _current_handler():
                root.addHandler(handler)
                if root.level > handler.level:
                    root.setLevel(handler.level)

    wrapper.__otel_bridge_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


def _wrap_logging_config() -> None:
    """Installs :func:`_keep_handler` around the stdlib's configuration functions, once."""
    for owner, attr in ((logging.config, "dictConfig"), (logging.config, "fileConfig"), (logging, "basicConfig")):
        fn = getattr(owner, attr)
        if not getattr(fn, "__otel_bridge_wrapped__", False):
            setattr(owner, attr, _keep_handler(fn))


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
