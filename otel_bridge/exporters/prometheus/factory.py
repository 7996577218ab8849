"""Builds the reader for one ``prometheus`` entry: endpoint, multi-process mode, mounting lookup."""

from __future__ import annotations

import errno
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.prometheus.multiprocess import Coordinator, default_dir, prepare_dir, under_gunicorn
from otel_bridge.exporters.prometheus.options import PrometheusOptions
from otel_bridge.exporters.prometheus.reader import PrometheusReader
from otel_bridge.exporters.prometheus.server import MetricsServer, make_app, server_ssl_context

_log = logging.getLogger("otel_bridge.prometheus")

# Readers built in this process, newest last, for wsgi_app()/asgi_app() without a bridge at hand.
_readers: list[weakref.ref[PrometheusReader]] = []


def multiprocess_enabled(options: PrometheusOptions) -> bool:
    """``multiprocess: auto`` means on under gunicorn."""
    return options.multiprocess is True or (options.multiprocess == "auto" and under_gunicorn())


def _resolve(path: str | None, config_dir: Path | None) -> str | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return str(p if p.is_absolute() or config_dir is None else config_dir / p)


class _Shared:
    """A server bound in this process; a reconfigured bridge takes it over instead of binding again."""

    def __init__(self, server: MetricsServer, owner: _Endpoint) -> None:
        self.server = server
        self.owner = owner
        self.pid = os.getpid()  # a forked child inherits the object, not the serving thread


# (host, port, tls) → the server bound there by this process. configure_otel() builds the new bridge
# before shutting the old one down, so the new reader takes the old one's port over.
_servers: dict[tuple[str, int, bool], _Shared] = {}
_servers_lock = threading.Lock()


class _Endpoint:
    """Binds the port once; remembers the server so shutdown and fork can let go of it."""

    def __init__(self, reader: PrometheusReader, options: PrometheusOptions, config_dir: Path | None) -> None:
        self.reader = reader
        self._options = options
        certfile = _resolve(options.certfile, config_dir)
        # Built now so that a missing or mismatched certificate is a configuration error.
        self._ssl = server_ssl_context(certfile, _resolve(options.keyfile, config_dir)) if certfile else None
        self._key = (options.host, options.port, self._ssl is not None)
        self.server: MetricsServer | None = None

    def bind(self) -> bool:
        """Starts serving; False when the port is taken by another process (another worker serves it)."""
        with _servers_lock:
            if self.server is not None:
                return True
            shared = _servers.get(self._key) if self._options.port else None
            if shared is not None and shared.pid != os.getpid():
                del _servers[self._key]
                shared.server.forget_in_child()
                shared = None
            if shared is not None:
                shared.owner = self
                self.server = shared.server
                return True
            holder: list[_Shared] = []
            app = make_app(lambda: holder[0].owner.reader if holder else None, path=self._options.path)
            try:
                server = MetricsServer(app, self._options.host, self._options.port, ssl_context=self._ssl)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                raise
            holder.append(_Shared(server, self))
            if self._options.port:
                _servers[self._key] = holder[0]
            self.server = server.start()
            return True

    def _release(self) -> MetricsServer | None:
        with _servers_lock:
            server, self.server = self.server, None
            shared = _servers.get(self._key)
            if shared is not None and shared.server is server:
                if shared.owner is not self:
                    return None  # handed over to a newer bridge: keep serving
                del _servers[self._key]
            return server

    def close(self) -> None:
        server = self._release()
        if server is not None:
            server.close()

    def forget(self) -> None:
        server = self._release()
        if server is not None:
            server.forget_in_child()

    def url(self) -> str:
        server = self.server
        if server is None:
            return ""
        host = self._options.host if ":" not in self._options.host else f"[{self._options.host}]"
        return f"{server.scheme}://{host}:{server.port}{self._options.path}"


def build_reader(
    options: PrometheusOptions,
    stats: ExporterStats | None = None,
    *,
    name: str = "prometheus",
    config_dir: Path | None = None,
    cardinality_limits: dict[type, int] | None = None,
) -> PrometheusReader:
    """The reader for one entry, serving (or ready to be mounted) and multi-process aware."""
    stats = stats or ExporterStats(name, "prometheus")
    reader = PrometheusReader(options, stats, cardinality_limits=cardinality_limits)
    reader.name = name  # type: ignore[attr-defined]
    endpoint = _Endpoint(reader, options, config_dir)
    reader.endpoint = endpoint  # type: ignore[attr-defined]
    multiprocess = multiprocess_enabled(options)
    directory: Path | None = None
    if multiprocess:  # before binding: an unsafe directory is a config error that leaves no port taken
        directory = prepare_dir(
            Path(options.multiprocess_dir) if options.multiprocess_dir else default_dir(options.port)
        )
    serving = False
    if options.serve == "port":
        try:
            serving = endpoint.bind()
        except OSError as exc:
            stats.state = f"error: cannot serve {options.host}:{options.port}: {exc.strerror or exc}"
            _log.warning("prometheus: %s", stats.state)
        if not serving and not multiprocess and not stats.state.startswith("error"):
            stats.state = f"error: port {options.port} is in use"
            _log.warning(
                "prometheus: port %s is in use; metrics are not served (set multiprocess: true if several "
                "worker processes share this config)",
                options.port,
            )
    if directory is not None:
        can_take_over = options.serve == "port" and options.port != 0
        coordinator = Coordinator(
            reader,
            directory,
            options.multiprocess_interval_ms / 1000.0,
            options.multiprocess_gauge,
            try_serve=endpoint.bind if can_take_over else None,
            forget_server=endpoint.forget,
        ).start(serving=serving or options.serve == "none")
        reader.coordinator = coordinator  # type: ignore[attr-defined]
        reader.merge = coordinator.merge
        reader.on_flush.append(coordinator.flush)
        reader.on_shutdown.append(coordinator.close)
    reader.on_shutdown.append(endpoint.close)
    stats.extra["endpoint"] = endpoint.url
    stats.extra["overflowed_metrics"] = reader.overflowed
    _readers[:] = [ref for ref in _readers if ref() is not None]
    _readers.append(weakref.ref(reader))
    return reader


def find_reader(bridge: Any = None, name: str | None = None) -> PrometheusReader | None:
    """The reader to mount: one of ``bridge``'s exporters (matched by its stats), else the newest here."""
    candidates = [r for ref in _readers if (r := ref()) is not None]
    if bridge is not None:
        owned = {id(s) for s in (getattr(bridge, "stats", None) or ())}
        candidates = [r for r in candidates if id(r.stats) in owned]
    if name is not None:
        candidates = [r for r in candidates if getattr(r, "name", None) == name]
    live = [r for r in candidates if not r._shut]
    return live[-1] if live else None
