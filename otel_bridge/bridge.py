"""``Bridge``: the running configuration — its providers, its status, flush and bounded shutdown."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from otel_bridge._internal.stats import StatsRegistry

_log = logging.getLogger("otel_bridge")


def run_bounded(name: str, fn: Callable[[], Any], timeout_s: float) -> bool:
    """Runs ``fn`` on a daemon thread and waits at most ``timeout_s``; True if it finished in time.

    The SDK's provider shutdowns take no overall deadline (each batch processor waits up to 30 s),
    so this is what makes ``Bridge.shutdown(timeout_s)`` a promise even with every backend down.
    """
    done = threading.Event()
    failed: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # reported, never raised into the app
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name=f"otel-bridge-{name}", daemon=True).start()
    finished = done.wait(max(0.0, timeout_s))
    if failed:
        _log.warning("%s failed: %s", name, failed[0])
    return finished and not failed


class Bridge:
    """What ``configure_otel()`` returns: the three SDK providers and their exporters' state.

    Use it as a context manager to shut down on leaving the block; otherwise shutdown happens at
    interpreter exit.
    """

    def __init__(
        self,
        *,
        tracer_provider: Any,
        logger_provider: Any,
        meter_provider: Any,
        stats: StatsRegistry | None = None,
        source: str = "",
        disabled: bool = False,
        on_shutdown: Callable[[Bridge], None] | None = None,
    ) -> None:
        self.tracer_provider = tracer_provider
        self.logger_provider = logger_provider
        self.meter_provider = meter_provider
        self.stats = stats or StatsRegistry()
        self.source = source
        self.installed_globally = False
        self._state = "disabled" if disabled else "running"
        self._on_shutdown = on_shutdown
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """``running``, ``disabled`` (OTEL_SDK_DISABLED) or ``shutdown``."""
        return self._state

    def status(self) -> dict[str, Any]:
        """Per exporter: type, target, state, sent, failed, retried, spooled, dropped, queued. No secrets."""
        return {
            "state": self._state,
            "source": self.source,
            "installed_globally": self.installed_globally,
            "exporters": self.stats.snapshot(),
        }

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        """Exports what is queued, waiting at most ``timeout_s`` in total; True if everything went out."""
        if self._state != "running":
            return False
        deadline = time.monotonic() + timeout_s
        ok = True
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            remaining = deadline - time.monotonic()
            millis = int(max(0.0, remaining) * 1000)
            ok = run_bounded("flush", functools.partial(_flush, provider, millis), remaining) and ok
        return ok

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Flushes and stops every exporter within ``timeout_s``; safe to call twice."""
        with self._lock:
            if self._state == "shutdown":
                return True
            was_running = self._state == "running"
            self._state = "shutdown"
        if self._on_shutdown is not None:
            self._on_shutdown(self)
        if not was_running:
            return True
        deadline = time.monotonic() + timeout_s

        def stop_all() -> None:
            for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
                millis = int(max(0.0, deadline - time.monotonic()) * 1000)
                try:
                    _shutdown(provider, millis)
                except Exception as exc:
                    _log.warning("shutdown of %s failed: %s", type(provider).__name__, exc)

        finished = run_bounded("shutdown", stop_all, timeout_s)
        if not finished:
            _log.warning("shutdown did not finish within %.1fs; queued telemetry may be lost", timeout_s)
        return finished

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _flush(provider: Any, millis: int) -> bool:
    flush = getattr(provider, "force_flush", None)
    if flush is None:
        return True
    return bool(flush(millis) if millis is not None else flush())


def _shutdown(provider: Any, millis: int) -> None:
    from opentelemetry.sdk.metrics import MeterProvider

    stop = getattr(provider, "shutdown", None)
    if stop is None:
        return
    if isinstance(provider, MeterProvider):  # the only SDK provider whose shutdown takes a deadline
        stop(timeout_millis=millis)
    else:
        stop()
