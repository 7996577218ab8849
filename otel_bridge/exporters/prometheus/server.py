"""The metrics endpoint: a WSGI app (path check, basic auth) and a threaded HTTP(S) server for it.

``make_app`` is what both the own-port server and ``wsgi_app()`` (mounting into an existing app)
serve; ``make_asgi`` is the ASGI counterpart. Rendering is ``prometheus_client``'s (content
negotiation between text and OpenMetrics, gzip).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from otel_bridge._internal import guard
from otel_bridge.exporters.prometheus.options import BasicAuth

_log = logging.getLogger("otel_bridge.prometheus")

# Bounds the TLS handshake and every read of a request, per connection (each has its own thread).
CONNECTION_TIMEOUT_S = 10.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def check_basic_auth(header: str | None, auth: BasicAuth | None) -> bool:
    """True when no auth is configured or ``header`` carries the configured credentials."""
    if auth is None:
        return True
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    ok_user = hmac.compare_digest(user.encode(), auth.username.encode())
    ok_password = hmac.compare_digest(password.encode(), auth.password.get_secret_value().encode())
    return ok_user and ok_password


class Target(Protocol):
    """What an endpoint serves: a reader's registry and its auth settings."""

    registry: CollectorRegistry

    @property
    def basic_auth(self) -> BasicAuth | None: ...


def make_app(resolve: Callable[[], Target | None], *, path: str | None = None) -> WSGIApp:
    """A WSGI app serving the target ``resolve()`` returns (looked up per request).

    Args:
        resolve: returns what to serve, or None (answered 503: no prometheus exporter configured).
        path: only this path is served (own-port server); None serves any path (mounted apps).
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if path is not None and environ.get("PATH_INFO", "/") != path:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"metrics are served at {path}\n".encode()]
        target = resolve()
        if target is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no prometheus exporter is configured\n"]
        if not check_basic_auth(environ.get("HTTP_AUTHORIZATION"), target.basic_auth):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="metrics"')],
            )
            return [b"unauthorized\n"]
        return make_wsgi_app(target.registry)(environ, start_response)  # type: ignore[no-any-return]

    return app


def make_asgi(resolve: Callable[[], Target | None]) -> Any:
    """The ASGI counterpart of :func:`make_app` for mounting (any path)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        target = resolve()
        if target is None or not check_basic_auth(headers.get("authorization"), target.basic_auth):
            status = 503 if target is None else 401
            extra = [] if target is None else [(b"www-authenticate", b'Basic realm="metrics"')]
            await send({"type": "http.response.start", "status": status, "headers": extra})
            await send(
                {"type": "http.response.body", "body": b"unavailable\n" if target is None else b"unauthorized\n"}
            )
            return
        await make_asgi_app(target.registry)(scope, receive, send)

    return app


def server_ssl_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A TLS server context; raises (at config time) when the files are missing or do not match."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    return context


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (a scrape per second would flood the app's logs)."""


class MetricsServer:
    """A threaded HTTP(S) server bound once to ``host:port`` serving one WSGI app.

    Raises ``OSError`` from the constructor when the port cannot be bound (EADDRINUSE included).
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]

        class _Server(ThreadingWSGIServer):
            address_family = family

            def finish_request(self, request: Any, client_address: Any) -> None:
                # Runs in the request's own thread. TLS is started here, not on the listening socket:
                # there the handshake runs inside accept(), and one client that connects and stays
                # silent would stall every scrape.
                request.settimeout(CONNECTION_TIMEOUT_S)
                if ssl_context is None:
                    super().finish_request(request, client_address)
                    return
                try:
                    conn = ssl_context.wrap_socket(request, server_side=True)
                except OSError:  # not TLS, too slow, or gone: dropped quietly
                    return
                try:
                    super().finish_request(conn, client_address)
                finally:
                    with contextlib.suppress(OSError):
                        conn.close()

            def handle_error(self, request: Any, client_address: Any) -> None:
                _log.debug("prometheus: request from %s failed", client_address, exc_info=True)

        self._server = make_server(str(sockaddr[0]), port, app, _Server, handler_class=_QuietHandler)
        self.host = host
        self.port: int = self._server.server_address[1]
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> MetricsServer:
        """Serves on a daemon thread ``otel-bridge-prometheus-http``."""
        self._thread = guard.start_thread("prometheus-http", lambda: self._server.serve_forever(poll_interval=0.2))
        return self

    def close(self, timeout_s: float = 2.0) -> None:
        """Stops serving and frees the port; idempotent and bounded."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            done = threading.Thread(target=self._server.shutdown, daemon=True)
            done.start()
            done.join(timeout_s)
        self._server.server_close()

    def forget_in_child(self) -> None:
        """After ``fork()``: close this process's copy of the listening socket, leave the parent's alone."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.socket.close()
