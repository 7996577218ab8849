"""OTel semantic conventions → Sentry ``op``, ``description``, transaction name and status. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.trace import SpanKind, StatusCode

# gRPC status code → Sentry span status (same names Relay knows).
GRPC_STATUS: dict[int, str] = {
    0: "ok",
    1: "cancelled",
    2: "unknown_error",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal_error",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}

_HTTP_STATUS: dict[int, str] = {
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "already_exists",
    413: "failed_precondition",
    429: "resource_exhausted",
    499: "cancelled",
    501: "unimplemented",
    503: "unavailable",
    504: "deadline_exceeded",
}


def first(attrs: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of ``keys`` present in ``attrs`` (stable names before legacy ones)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def http_status_name(code: int) -> str:
    """Sentry status for an HTTP response code."""
    if code < 400:
        return "ok"
    named = _HTTP_STATUS.get(code)
    if named:
        return named
    return "invalid_argument" if code < 500 else "internal_error"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def span_status(status_code: StatusCode, attrs: Mapping[str, Any]) -> str:
    """Sentry status name: HTTP code first, then gRPC code, then the OTel status."""
    http_code = _int(first(attrs, "http.response.status_code", "http.status_code"))
    if http_code is not None and http_code >= 100:
        return http_status_name(http_code)
    grpc_code = _int(attrs.get("rpc.grpc.status_code"))
    if grpc_code is not None and grpc_code in GRPC_STATUS:
        return GRPC_STATUS[grpc_code]
    return "internal_error" if status_code is StatusCode.ERROR else "ok"


def strip_url(url: str) -> str:
    """``url`` without userinfo, query and fragment (they may carry secrets or PII)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _http_method(attrs: Mapping[str, Any]) -> str | None:
    method = first(attrs, "http.request.method", "http.method")
    return str(method) if method is not None else None


def op_and_description(name: str, kind: SpanKind, attrs: Mapping[str, Any]) -> tuple[str, str]:
    """``(op, description)`` for a span: ``sentry.*`` attributes, then conventions, then the name."""
    op, description = _from_conventions(name, kind, attrs)
    explicit_op = attrs.get("sentry.op")
    explicit_desc = attrs.get("sentry.description")
    return (str(explicit_op) if explicit_op else op, str(explicit_desc) if explicit_desc else description)


def _from_conventions(name: str, kind: SpanKind, attrs: Mapping[str, Any]) -> tuple[str, str]:
    method = _http_method(attrs)
    if method is not None:
        if kind is SpanKind.SERVER:
            target = first(attrs, "http.route", "url.path", "http.target")
            target = str(target).split("?", 1)[0] if target is not None else None
            return "http.server", f"{method} {target}" if target else name
        url = first(attrs, "url.full", "http.url")
        return "http.client", f"{method} {strip_url(str(url))}" if url else name
    db_system = first(attrs, "db.system.name", "db.system")
    if db_system is not None:
        statement = first(attrs, "db.query.text", "db.statement", "db.query.summary")
        return "db", str(statement) if statement is not None else name
    rpc_system = attrs.get("rpc.system")
    if rpc_system is not None:
        side = "server" if kind is SpanKind.SERVER else "client"
        op = f"grpc.{side}" if rpc_system == "grpc" else f"rpc.{side}"
        service, rpc_method = attrs.get("rpc.service"), attrs.get("rpc.method")
        return op, f"{service}/{rpc_method}" if service and rpc_method else name
    messaging = attrs.get("messaging.system")
    if messaging is not None:
        operation = first(attrs, "messaging.operation.type", "messaging.operation")
        if operation is None:
            operation = {SpanKind.PRODUCER: "publish", SpanKind.CONSUMER: "process"}.get(kind)
        op = f"queue.{operation}" if operation else "queue"
        destination = first(attrs, "messaging.destination.name", "messaging.destination")
        return op, str(destination) if destination is not None else name
    if first(attrs, "faas.trigger", "faas.invoked_name") is not None:
        return "function", name
    return name, name


def transaction_name(name: str, kind: SpanKind, attrs: Mapping[str, Any]) -> tuple[str, str]:
    """``(transaction, source)`` for a local root span."""
    explicit = attrs.get("sentry.transaction")
    if explicit:
        return str(explicit), "custom"
    method = _http_method(attrs)
    if method is not None and kind is SpanKind.SERVER:
        route = attrs.get("http.route")
        if route:
            return f"{method} {route}", "route"
        path = first(attrs, "url.path", "http.target")
        if path:
            return f"{method} {str(path).split('?', 1)[0]}", "url"
    return name, "custom"
