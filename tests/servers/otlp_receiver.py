"""A loopback OTLP/HTTP receiver that decodes what it gets (traces, logs, metrics)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_MESSAGES: dict[str, Any] = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
}


class OtlpReceiver:
    def __init__(self) -> None:
        self.requests: dict[str, list[Any]] = {path: [] for path in _MESSAGES}
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                message_type = _MESSAGES.get(self.path)
                if message_type is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                message = message_type()
                message.ParseFromString(body)
                with receiver.changed:
                    receiver.requests[self.path].append(message)
                    receiver.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Any]:
        return [
            s for r in self.requests["/v1/traces"] for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
        ]

    def logs(self) -> list[Any]:
        return [
            lr
            for r in self.requests["/v1/logs"]
            for rl in r.resource_logs
            for sl in rl.scope_logs
            for lr in sl.log_records
        ]

    def metric_names(self) -> set[str]:
        return {
            m.name
            for r in self.requests["/v1/metrics"]
            for rm in r.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        }


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
