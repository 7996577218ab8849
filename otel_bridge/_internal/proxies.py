"""Global providers that can be re-pointed: how ``configure_otel()`` runs twice.

The OTel API sets each global provider once and refuses to replace it. We install these proxies once
and re-point them at each new configuration's SDK providers. Every tracer, logger, meter and
instrument they handed out is re-bound in place, so objects an application or an instrumentation
library took before a reconfiguration keep working.

On the hot path a proxy costs nothing: binding copies the SDK object's bound methods (``add``,
``record``, ``start_span``, ``emit`` …) onto the proxy instance, so ``counter.add`` *is* the SDK's
method. The class-level methods only exist to satisfy the API's abstract classes.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider


class _Rebinder:
    """Keeps references to handed-out proxies and re-binds them together.

    Tracers and loggers are held weakly (code may ask for one per call). Meters and instruments are
    held strongly, as the SDK holds them too: an observable instrument nobody references must still
    have its callback moved to the new provider.
    """

    def __init__(self, weak: bool = True) -> None:
        self._lock = threading.Lock()
        self._items: weakref.WeakSet[Any] | set[Any] = weakref.WeakSet() if weak else set()

    def track(self, item: Any) -> Any:
        with self._lock:
            self._items.add(item)
        return item

    def rebind(self, delegate: Any) -> None:
        with self._lock:
            items = list(self._items)
        for item in items:
            item._rebind(delegate)


# ---- traces ------------------------------------------------------------------------------------


class ProxyTracer(trace.Tracer):
    def __init__(self, provider: Any, args: tuple[Any, ...]) -> None:
        self._args = args
        self._rebind(provider)

    def _rebind(self, provider: Any) -> None:
        real = provider.get_tracer(*self._args)
        self._real = real
        self.start_span = real.start_span  # type: ignore[method-assign]
        self.start_as_current_span = real.start_as_current_span  # type: ignore[method-assign]

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:  # type: ignore[override]
        return self._real.start_span(*args, **kwargs)  # type: ignore[no-any-return]

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._real.start_as_current_span(*args, **kwargs)


class ProxyTracerProvider(trace.TracerProvider):
    """The global tracer provider; :meth:`set_delegate` re-points it."""

    def __init__(self) -> None:
        self._delegate: Any = NoOpTracerProvider()
        self._tracers = _Rebinder()

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:  # type: ignore[override]
        call = _positional(
            args, kwargs, ("instrumenting_module_name", "instrumenting_library_version", "schema_url", "attributes")
        )
        return self._tracers.track(ProxyTracer(self._delegate, call))  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        # The SDK provider's own API (add_span_processor, force_flush, resource …), as code that
        # expects an SDK provider from the global getter calls it.
        if name.startswith("__") or name == "_delegate":
            raise AttributeError(name)
        return getattr(self._delegate, name)

    def set_delegate(self, provider: Any) -> None:
        self._delegate = provider
        self._tracers.rebind(provider)


# ---- logs --------------------------------------------------------------------------------------


class ProxyLogger(_logs.Logger):
    def __init__(self, provider: Any, args: tuple[Any, ...]) -> None:
        super().__init__(args[0])
        self._args = args
        self._rebind(provider)

    def _rebind(self, provider: Any) -> None:
        real = provider.get_logger(*self._args)
        self._real = real
        self.emit = real.emit  # type: ignore[method-assign]
        self.enabled = real.enabled  # type: ignore[method-assign]

    def emit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._real.emit(*args, **kwargs)

    def enabled(self, *args: Any, **kwargs: Any) -> bool:  # type: ignore[override]
        return bool(self._real.enabled(*args, **kwargs))


class ProxyLoggerProvider(_logs.LoggerProvider):
    """The global logger provider (used by code that emits OTel log records directly)."""

    def __init__(self) -> None:
        self._delegate: Any = NoOpLoggerProvider()
        self._loggers = _Rebinder()

    def get_logger(self, *args: Any, **kwargs: Any) -> _logs.Logger:  # type: ignore[override]
        call = _positional(args, kwargs, ("name", "version", "schema_url", "attributes"))
        return self._loggers.track(ProxyLogger(self._delegate, call))  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        # The SDK provider's own API (add_span_processor, force_flush, resource …), as code that
        # expects an SDK provider from the global getter calls it.
        if name.startswith("__") or name == "_delegate":
            raise AttributeError(name)
        return getattr(self._delegate, name)

    def set_delegate(self, provider: Any) -> None:
        self._delegate = provider
        self._loggers.rebind(provider)


# ---- metrics -----------------------------------------------------------------------------------

# API factory name → (API class to subclass, the hot-path method copied from the SDK instrument).
_INSTRUMENTS: dict[str, tuple[type, str | None]] = {
    "create_counter": (metrics.Counter, "add"),
    "create_up_down_counter": (metrics.UpDownCounter, "add"),
    "create_histogram": (metrics.Histogram, "record"),
    "create_gauge": (metrics._Gauge, "set"),
    "create_observable_counter": (metrics.ObservableCounter, None),
    "create_observable_up_down_counter": (metrics.ObservableUpDownCounter, None),
    "create_observable_gauge": (metrics.ObservableGauge, None),
}


def _make_instrument_class(factory: str, base: type, method: str | None) -> type:
    def __init__(self: Any, meter: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._factory_args = (args, kwargs)
        self._rebind(meter)

    def _rebind(self: Any, meter: Any) -> None:
        args, kwargs = self._factory_args
        real = getattr(meter, factory)(*args, **kwargs)
        self._real = real
        if method is not None:
            setattr(self, method, getattr(real, method))

    namespace: dict[str, Any] = {"__init__": __init__, "_rebind": _rebind}
    if method is not None:

        def hot(self: Any, *args: Any, **kwargs: Any) -> None:
            getattr(self._real, method)(*args, **kwargs)

        namespace[method] = hot
    return type(f"Proxy{base.__name__.lstrip('_')}", (base,), namespace)


_PROXY_CLASSES = {name: _make_instrument_class(name, base, m) for name, (base, m) in _INSTRUMENTS.items()}


class ProxyMeter(metrics.Meter):
    def __init__(self, provider: Any, args: tuple[Any, ...]) -> None:
        super().__init__(args[0], args[1], args[2])
        self._args = args
        self._instruments = _Rebinder(weak=False)
        self._real: Any = provider.get_meter(*args)

    def _rebind(self, provider: Any) -> None:
        self._real = provider.get_meter(*self._args)
        self._instruments.rebind(self._real)

    def _create(self, factory: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._instruments.track(_PROXY_CLASSES[factory](self._real, args, kwargs))

    def create_counter(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_counter", args, kwargs)

    def create_up_down_counter(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_up_down_counter", args, kwargs)

    def create_histogram(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_histogram", args, kwargs)

    def create_gauge(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_gauge", args, kwargs)

    def create_observable_counter(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_observable_counter", args, kwargs)

    def create_observable_up_down_counter(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_observable_up_down_counter", args, kwargs)

    def create_observable_gauge(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._create("create_observable_gauge", args, kwargs)


class ProxyMeterProvider(metrics.MeterProvider):
    """The global meter provider; instruments created through it survive a reconfiguration."""

    def __init__(self) -> None:
        self._delegate: Any = NoOpMeterProvider()
        self._meters = _Rebinder(weak=False)
        self._by_key: dict[tuple[Any, ...], ProxyMeter] = {}
        self._lock = threading.Lock()

    def get_meter(self, *args: Any, **kwargs: Any) -> metrics.Meter:  # type: ignore[override]
        call = _positional(args, kwargs, ("name", "version", "schema_url", "attributes"))
        attributes = call[3]
        key = (*call[:3], repr(sorted(attributes.items())) if attributes else None)
        with self._lock:
            meter = self._by_key.get(key)
            if meter is None:
                meter = self._by_key[key] = self._meters.track(ProxyMeter(self._delegate, call))
        return meter

    def __getattr__(self, name: str) -> Any:
        # The SDK provider's own API (add_span_processor, force_flush, resource …), as code that
        # expects an SDK provider from the global getter calls it.
        if name.startswith("__") or name == "_delegate":
            raise AttributeError(name)
        return getattr(self._delegate, name)

    def set_delegate(self, provider: Any) -> None:
        self._delegate = provider
        self._meters.rebind(provider)


def _positional(args: tuple[Any, ...], kwargs: dict[str, Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    values = list(args) + [None] * (len(names) - len(args))
    for i, name in enumerate(names):
        if name in kwargs:
            values[i] = kwargs[name]
    return tuple(values[: len(names)])
