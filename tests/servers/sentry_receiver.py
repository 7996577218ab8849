"""A loopback Sentry ingest stand-in: ``POST /api/<project>/envelope/``, parsed into items.

It decompresses (gzip, and br when ``brotli`` is installed), checks the ``X-Sentry-Auth`` header,
splits envelopes into items, and can answer 429 for a window, with ``Retry-After`` or
``X-Sentry-Rate-Limits``, counting what arrives during it.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/api/(?P<project>\d+)/envelope/?$")


@dataclass
class ReceivedItem:
    """One envelope item: its headers and decoded JSON payload."""

    headers: dict[str, Any]
    payload: Any

    @property
    def type(self) -> str:
        return str(self.headers.get("type"))


@dataclass
class ReceivedEnvelope:
    """One accepted request."""

    project: str
    auth: str
    encoding: str
    headers: dict[str, Any]
    items: list[ReceivedItem] = field(default_factory=list)


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[ReceivedItem]]:
    """Sentry's envelope format: a header line, then per item a header line and a payload."""
    newline = body.find(b"\n")
    headers = json.loads(body[: newline if newline >= 0 else len(body)] or b"{}")
    pos = newline + 1 if newline >= 0 else len(body)
    items: list[ReceivedItem] = []
    while pos < len(body):
        end = body.find(b"\n", pos)
        if end < 0:
            end = len(body)
        line = body[pos:end].strip()
        pos = end + 1
        if not line:
            continue
        item_headers = json.loads(line)
        length = item_headers.get("length")
        if length is None:
            stop = body.find(b"\n", pos)
            stop = len(body) if stop < 0 else stop
            payload_bytes = body[pos:stop]
            pos = stop + 1
        else:
            payload_bytes = body[pos : pos + int(length)]
            pos += int(length) + 1
        try:
            payload: Any = json.loads(payload_bytes) if payload_bytes else None
        except ValueError:
            payload = payload_bytes
        items.append(ReceivedItem(item_headers, payload))
    return headers, items


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli  # only reached when the SDK compressed with brotli, i.e. it is installed

        return bytes(brotli.decompress(body))
    return body


class SentryReceiver:
    """The server; use :func:`running_receiver`."""

    def __init__(self) -> None:
        self.envelopes: list[ReceivedEnvelope] = []
        self.rejected = 0  # requests answered 429 (or the status given to fail_for)
        self.changed = threading.Condition()
        self._limit_until = 0.0
        self._limit_headers: dict[str, str] = {}
        self._limit_status = 429
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = _PATH.match(self.path.split("?", 1)[0])
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if match is None:
                    self._answer(404)
                    return
                auth = self.headers.get("X-Sentry-Auth", "")
                if "sentry_key=" not in auth:
                    self._answer(401)
                    return
                with receiver.changed:
                    limited = time.monotonic() < receiver._limit_until
                    if limited:
                        receiver.rejected += 1
                        receiver.changed.notify_all()
                        headers = dict(receiver._limit_headers)
                        status = receiver._limit_status
                if limited:
                    self._answer(status, headers)
                    return
                encoding = self.headers.get("Content-Encoding", "")
                env_headers, items = parse_envelope(_decompress(body, encoding))
                with receiver.changed:
                    receiver.envelopes.append(ReceivedEnvelope(match["project"], auth, encoding, env_headers, items))
                    receiver.changed.notify_all()
                self._answer(200, body=b'{"id":"ok"}')

            def _answer(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=lambda: self.server.serve_forever(poll_interval=0.05), name="sentry-receiver", daemon=True
        )

    def dsn(self, project: int = 42, key: str = "key") -> str:
        """A DSN pointing here."""
        return f"http://{key}@127.0.0.1:{self.port}/{project}"

    def rate_limit(self, seconds: float, rate_limits_header: str | None = None) -> None:
        """Answer 429 for ``seconds``: with ``Retry-After``, or with ``X-Sentry-Rate-Limits`` if given."""
        with self.changed:
            self._limit_until = time.monotonic() + seconds
            self._limit_status = 429
            self._limit_headers = (
                {"X-Sentry-Rate-Limits": rate_limits_header}
                if rate_limits_header
                else {"Retry-After": str(max(int(seconds), 1))}
            )

    def fail_for(self, seconds: float, status: int = 500) -> None:
        """Answer ``status`` without rate-limit headers for ``seconds``."""
        with self.changed:
            self._limit_until = time.monotonic() + seconds
            self._limit_headers = {}
            self._limit_status = status

    def items(self, item_type: str | None = None, project: str | None = None) -> list[ReceivedItem]:
        """Every item received so far (optionally of one type / project)."""
        with self.changed:
            return [
                item
                for envelope in self.envelopes
                if project is None or envelope.project == project
                for item in envelope.items
                if item_type is None or item.type == item_type
            ]

    def payloads(self, item_type: str, project: str | None = None) -> list[Any]:
        """Payloads of every received item of ``item_type``."""
        return [item.payload for item in self.items(item_type, project)]

    def wait_for(self, predicate: Callable[[SentryReceiver], bool], timeout: float = 10.0) -> bool:
        """Waits (bounded) until ``predicate(self)`` holds."""
        with self.changed:  # an RLock: predicate may call items()
            return self.changed.wait_for(lambda: predicate(self), timeout)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running_receiver() -> Iterator[SentryReceiver]:
    """A started receiver, always stopped afterwards."""
    receiver = SentryReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
