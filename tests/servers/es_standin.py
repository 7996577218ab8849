"""A loopback Elasticsearch 9 stand-in for tests, with fault injection.

Answers like ES 9 where our exporter looks: ``GET /`` (the 9.1.0 root info fixture), ``_bulk``
(create → 201, an existing ``_id`` → 409 ``version_conflict_engine_exception``, per-item statuses,
``errors`` flag), ``PUT _index_template``; ``X-Elastic-Product: Elasticsearch`` on every answer.

Faults: whole-request 429 / 503 / 500 (N times), 413 for bodies over a size, every k-th item 429, a per-item 400
``document_parsing_exception`` or a ``failure_store: used`` answer for documents matching a
predicate, and connection refused (the listening socket is closed until ``start_listening()``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "../shared/fixtures/elasticsearch"

Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Faults:
    """What the stand-in does wrong, and how often (counters go down as faults fire)."""

    whole_429: int = 0
    whole_503: int = 0
    whole_500: int = 0
    item_429_every: int = 0
    reject_400: Predicate | None = None
    failure_store: Predicate | None = None
    retry_after: str | None = None
    max_body_bytes: int = 0  # a larger _bulk body answers 413, as a proxy or http.max_content_length does


@dataclass
class Recorded:
    """What the stand-in saw and stored."""

    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # _id → source
    index_of: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)  # every successful create, in order
    conflicts: int = 0
    failure_store: list[str] = field(default_factory=list)
    bulk_requests: int = 0
    bulk_headers: list[dict[str, str]] = field(default_factory=list)
    templates: dict[str, Any] = field(default_factory=dict)
    item_counter: int = 0
    too_large: int = 0  # requests answered 413


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


class ESStandIn:
    """Start with ``start()`` (or as a context manager); ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.seen = Recorded()
        self.lock = threading.Lock()
        self.root_info = _fixture("root_info_9.1.0.json")
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.delivered = threading.Condition(self.lock)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ESStandIn:
        self.start_listening()
        return self

    def start_listening(self) -> None:
        """Binds (again, on the same port after a ``stop_listening``) and serves."""
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop_listening(self) -> None:
        """Closes the listening socket: new connections are refused until ``start_listening``."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def stop(self) -> None:
        self.stop_listening()

    def __enter__(self) -> ESStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests -----------------------------------------------------------------------

    def wait_for_docs(self, count: int, timeout: float = 10.0) -> bool:
        """Waits until at least ``count`` documents are stored (bounded)."""
        with self.delivered:
            return self.delivered.wait_for(lambda: len(self.seen.docs) >= count, timeout)

    # -- request handling ------------------------------------------------------------------------

    def bulk(self, body: bytes, default_index: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.seen.bulk_requests += 1
            faults = self.faults
            extra: dict[str, str] = {}
            if faults.retry_after is not None:
                extra["Retry-After"] = faults.retry_after
            if faults.whole_429 > 0:
                faults.whole_429 -= 1
                return 429, _error(429, "es_rejected_execution_exception", "rejected execution of bulk"), extra
            if faults.whole_503 > 0:
                faults.whole_503 -= 1
                return 503, _error(503, "unavailable_shards_exception", "primary shard is not active"), extra
            if faults.whole_500 > 0:
                faults.whole_500 -= 1
                return 500, _error(500, "illegal_state_exception", "node closed"), extra
            if faults.max_body_bytes and len(body) > faults.max_body_bytes:
                self.seen.too_large += 1
                return 413, {}, extra
            lines = [line for line in body.split(b"\n") if line.strip()]
            try:
                parsed = [json.loads(line) for line in lines]
            except ValueError as exc:  # ES refuses a malformed bulk body as a whole
                return 400, _error(400, "x_content_parse_exception", f"malformed bulk line: {exc}"), extra
            if len(parsed) % 2 or not all(isinstance(a, dict) and len(a) == 1 for a in parsed[0::2]):
                return 400, _error(400, "illegal_argument_exception", "Malformed action/metadata line"), extra
            items: list[dict[str, Any]] = []
            errors = False
            for action, source in zip(parsed[0::2], parsed[1::2], strict=False):
                op, meta = next(iter(action.items()))
                item = self._item(op, meta.get("_index") or default_index or "", meta.get("_id"), source)
                errors = errors or item["status"] >= 300
                items.append({op: item})
            self.delivered.notify_all()
            return 200, {"took": 3, "errors": errors, "items": items}, {}

    def _item(self, op: str, index: str, doc_id: str | None, source: dict[str, Any]) -> dict[str, Any]:
        seen, faults = self.seen, self.faults
        seen.item_counter += 1
        doc_id = doc_id or f"auto-{seen.item_counter}"
        base: dict[str, Any] = {"_index": index, "_id": doc_id}
        if faults.item_429_every and seen.item_counter % faults.item_429_every == 0:
            return {
                **base,
                "status": 429,
                "error": {
                    "type": "es_rejected_execution_exception",
                    "reason": "rejected execution of coordinating operation",
                },
            }
        if faults.reject_400 is not None and faults.reject_400(source):
            return {
                **base,
                "status": 400,
                "error": {
                    "type": "document_parsing_exception",
                    "reason": "[1:42] failed to parse field [code.function] of type [keyword]",
                },
            }
        if op == "create" and doc_id in seen.docs:
            seen.conflicts += 1
            return {
                **base,
                "status": 409,
                "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists (current version [1])",
                    "index": index,
                    "shard": "0",
                },
            }
        shards = {"total": 1, "successful": 1, "failed": 0}
        if faults.failure_store is not None and faults.failure_store(source):
            seen.failure_store.append(doc_id)
            return {
                **base,
                "_index": f".fs-{index}-000001",
                "status": 201,
                "result": "created",
                "_version": 1,
                "_shards": shards,
                "failure_store": "used",
            }
        seen.docs[doc_id] = source
        seen.index_of[doc_id] = index
        seen.created.append(doc_id)
        return {
            **base,
            "_version": 1,
            "result": "created",
            "_shards": shards,
            "_seq_no": len(seen.created) - 1,
            "_primary_term": 1,
            "status": 201,
        }


def _error(status: int, kind: str, reason: str) -> dict[str, Any]:
    return {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }


def _make_handler(standin: ESStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            compat = "vnd.elasticsearch" in self.headers.get("Accept", "")
            ctype = "application/vnd.elasticsearch+json;compatible-with=9" if compat else "application/json"
            self.send_header("Content-Type", ctype)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length", 0) or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/":
                self._reply(200, standin.root_info)
            else:
                self._reply(404, _error(404, "index_not_found_exception", "no such index"))

        def do_HEAD(self) -> None:
            self._reply(200, {})

        def do_POST(self) -> None:
            self._write("POST")

        def do_PUT(self) -> None:
            self._write("PUT")

        def _write(self, method: str) -> None:
            body = self._body()
            path = self.path.split("?")[0]
            if path.endswith("/_bulk"):
                parts = path.strip("/").split("/")
                index = parts[0] if len(parts) == 2 else None
                with standin.lock:
                    standin.seen.bulk_headers.append(dict(self.headers.items()))
                status, answer, extra = standin.bulk(body, index)
                self._reply(status, answer, extra)
            elif method == "PUT" and path.startswith("/_index_template/"):
                with standin.lock:
                    standin.seen.templates[path.rsplit("/", 1)[-1]] = json.loads(body or b"{}")
                self._reply(200, {"acknowledged": True})
            else:
                self._reply(404, _error(404, "not_found", path))

    return Handler
