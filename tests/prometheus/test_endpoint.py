"""The endpoint: path, basic auth, TLS, mounting into WSGI/ASGI apps, port handling, shutdown."""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

import otel_bridge
from otel_bridge.exporters.prometheus import asgi_app, wsgi_app
from tests.prometheus.conftest import scrape, value_of

AUTH = {"username": "scraper", "password": "s3cret"}


def _basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _status(url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=5, context=context
        ) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # e.g. plain HTTP against the TLS port
        return 0


def test_path_and_basic_auth(make_reader: Any) -> None:
    reader, provider = make_reader(basic_auth=AUTH, path="/prom")
    provider.get_meter("m").create_counter("hits").add(1)
    url = reader.endpoint.url()
    assert url.endswith("/prom")
    assert _status(url) == 401
    assert _status(url, _basic("scraper", "wrong")) == 401
    assert _status(url.replace("/prom", "/metrics"), _basic(**AUTH)) == 404
    assert value_of(scrape(url, _basic(**AUTH)), 'hits_total{otel_scope_name="m"}') == 1


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_tls_and_basic_auth_scraped_by_real_prometheus(
    prometheus: Any, make_reader: Any, certificate: tuple[str, str]
) -> None:
    cert, key = certificate
    reader, provider = make_reader(certfile=cert, keyfile=key, basic_auth=AUTH)
    provider.get_meter("m").create_counter("secure.hits").add(5)
    url = reader.endpoint.url()
    assert url.startswith("https://")
    trusted = ssl.create_default_context(cafile=cert)
    assert _status(url, context=trusted) == 401
    assert _status(url, _basic(**AUTH), context=trusted) == 200
    assert _status(url.replace("https://", "http://")) != 200
    port = reader.endpoint.server.port
    with prometheus([f"127.0.0.1:{port}"], scheme="https", basic_auth=("scraper", "s3cret")) as prom:
        result = prom.wait_for("secure_hits_total")
        assert float(result[0]["value"][1]) == 5


def test_an_idle_connection_does_not_block_the_tls_endpoint(make_reader: Any, certificate: tuple[str, str]) -> None:
    """A client that connects and never starts TLS (a port scanner, a TCP health check) must not stall
    the accept loop: the handshake runs in the request's own thread, with a timeout."""
    cert, key = certificate
    reader, provider = make_reader(certfile=cert, keyfile=key)
    provider.get_meter("m").create_counter("hits").add(1)
    trusted = ssl.create_default_context(cafile=cert)
    with socket.create_connection(("127.0.0.1", reader.endpoint.server.port)) as idle:
        idle.sendall(b"")  # connected, silent
        assert _status(reader.endpoint.url(), context=trusted) == 200
        assert _status(reader.endpoint.url().replace("https://", "http://")) != 200  # plain HTTP: refused
        assert _status(reader.endpoint.url(), context=trusted) == 200


def test_wsgi_and_asgi_mounting_with_serve_none() -> None:
    bridge = otel_bridge.configure_otel(
        {"metrics": {"exporters": ["prometheus"]}, "exporters": {"prometheus": {"serve": "none", "basic_auth": AUTH}}}
    )
    bridge.meter_provider.get_meter("m").create_counter("mounted").add(2)
    assert bridge.status()["exporters"]["prometheus"]["endpoint"] == ""

    environ: dict[str, Any] = {"PATH_INFO": "/anything", "HTTP_AUTHORIZATION": _basic(**AUTH)["Authorization"]}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(wsgi_app(bridge)(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert value_of(body.decode(), 'mounted_total{otel_scope_name="m"}') == 2
    environ.pop("HTTP_AUTHORIZATION")
    wsgi_app(bridge)(environ, lambda status, headers: statuses.append(status))
    assert statuses[-1].startswith("401")

    sent: list[dict[str, Any]] = []

    async def call(headers: list[tuple[bytes, bytes]]) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": headers}
        await asgi_app()(scope, receive, send)

    asyncio.run(call([(b"authorization", _basic(**AUTH)["Authorization"].encode())]))
    assert sent[0]["status"] == 200
    assert b"mounted_total" in sent[1]["body"]
    asyncio.run(call([]))
    assert sent[2]["status"] == 401


def test_port_in_use_is_reported_not_raised(make_reader: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        reader, _provider = make_reader(port=port)
        assert reader.endpoint.server is None
        assert reader.stats.state.startswith("error") and str(port) in reader.stats.state


def test_reconfigure_on_the_same_port_hands_the_endpoint_over(port: int) -> None:
    config = {
        "metrics": {"exporters": ["prometheus"]},
        "exporters": {"prometheus": {"host": "127.0.0.1", "port": port}},
    }
    first = otel_bridge.configure_otel(config)
    first.meter_provider.get_meter("m").create_counter("first").add(1)
    url = f"http://127.0.0.1:{port}/metrics"
    assert "first_total" in scrape(url)
    second = otel_bridge.configure_otel(config)  # built before the first one is shut down
    second.meter_provider.get_meter("m").create_counter("second").add(1)
    text = scrape(url)
    assert "second_total" in text and "first_total" not in text
    assert second.status()["exporters"]["prometheus"]["state"] == "ok"
    second.shutdown()
    second.shutdown()  # idempotent
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of the scrapes is fine
        again.bind(("127.0.0.1", port))  # no listener left on the port
