"""OTel log record → Elasticsearch document, for the ``ecs`` and ``otel`` mappings. Pure: no I/O.

Every record yields a valid document: values JSON cannot carry are turned into strings, bytes into
base64, huge strings are cut, mixed-type arrays become string arrays, and attribute keys that would
collide once Elasticsearch expands their dots (``code.function`` next to ``code.function.name``) are
renamed (``code.function`` → ``code.function.value``) so neither is lost.

The ``_id`` is a hash of the finished document, which holds the record's time, observed time and
content, so the same record always gets the same id: a retried ``create`` answers 409 and can never
land twice. An id is fixed once the record is encoded (retries and spool replays reuse it); two
*emissions* with identical content and timestamps get distinct ids through :class:`IdWindow`.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import math
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord, ReadWriteLogRecord

ECS_VERSION = "8.17.0"
TRUNCATED = "…[truncated]"

# Resource attribute → ECS field; resource attributes not listed go to ``labels``.
_ECS_RESOURCE = {
    "service.name": "service.name",
    "service.version": "service.version",
    "service.namespace": "service.namespace",
    "service.instance.id": "service.node.name",
    "deployment.environment.name": "service.environment",
    "deployment.environment": "service.environment",
    "host.name": "host.name",
    "host.id": "host.id",
    "host.arch": "host.architecture",
    "host.type": "host.type",
    "os.type": "host.os.platform",
    "os.description": "host.os.full",
    "os.name": "host.os.name",
    "os.version": "host.os.version",
    "process.pid": "process.pid",
    "process.executable.name": "process.name",
    "process.command_line": "process.command_line",
    "process.runtime.name": "service.runtime.name",
    "process.runtime.version": "service.runtime.version",
    "container.id": "container.id",
    "container.name": "container.name",
    "k8s.pod.name": "kubernetes.pod.name",
    "k8s.namespace.name": "kubernetes.namespace",
    "cloud.provider": "cloud.provider",
    "cloud.region": "cloud.region",
}
# Record attribute → ECS field it is copied to (the attribute is kept as well).
_ECS_ORIGIN = {
    "code.file.path": "log.origin.file.name",
    "code.filepath": "log.origin.file.name",
    "code.line.number": "log.origin.file.line",
    "code.lineno": "log.origin.file.line",
    "code.function.name": "log.origin.function",
    "code.function": "log.origin.function",
    "thread.id": "process.thread.id",
    "thread.name": "process.thread.name",
}
# Exception attributes become ECS ``error.*`` (and are not repeated as attributes).
_ECS_ERROR = {
    "exception.type": "error.type",
    "exception.message": "error.message",
    "exception.stacktrace": "error.stack_trace",
}


@dataclass(frozen=True)
class Document:
    """One document ready for ``_bulk``: its ``_id``, target index and serialised source."""

    id: str
    index: str
    source: bytes
    time_ns: int

    @property
    def size(self) -> int:
        """Bytes this document adds to a bulk body (source plus a typical action line)."""
        return len(self.source) + len(self.id) + len(self.index) + 40

    def action(self) -> bytes:
        """The bulk action line (always ``create``)."""
        return json.dumps({"create": {"_index": self.index, "_id": self.id}}, separators=(",", ":")).encode()


def format_ns(ns: int) -> str:
    """RFC 3339 UTC with all nine digits: ``2024-05-01T12:00:00.123456789Z``."""
    seconds, nanos = divmod(int(ns), 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def record_time_ns(record: ReadableLogRecord | ReadWriteLogRecord) -> int:
    """The record's event time, falling back to the observed time."""
    lr = record.log_record
    return int(lr.timestamp or lr.observed_timestamp or 0)


# Deeper nesting (or a cycle, which a body may hold) is cut instead of costing the whole record with
# a RecursionError. Above the index's mapping.depth.limit (20) a document is refused and rescued as
# text, which keeps up to this depth.
MAX_DEPTH = 64


def clean_value(value: Any, max_chars: int, depth: int = 0) -> Any:
    """A JSON value Elasticsearch accepts for ``value`` (never raises)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + TRUNCATED
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return clean_value(base64.b64encode(bytes(value)).decode("ascii"), max_chars)
    if isinstance(value, (Mapping, Sequence)) and depth >= MAX_DEPTH:
        return f"<{type(value).__name__} nested deeper than {MAX_DEPTH} levels>"
    if isinstance(value, Mapping):  # keys one level down follow the same rules as attribute keys
        return clean_attributes(value, max_chars, depth + 1)
    if isinstance(value, Sequence):
        items = [clean_value(v, max_chars, depth + 1) for v in value]
        kinds = {_kind(v) for v in items if v is not None}
        if len(kinds) > 1:  # ES arrays hold one type; mixed ones would be refused
            items = [v if isinstance(v, str) or v is None else _to_text(v) for v in items]
        return items
    try:
        return clean_value(str(value), max_chars)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (dict, list)):
        return "object"
    return "string"


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def resolve_collisions(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Renames keys that are also a dotted prefix of another key: ``a.b`` → ``a.b.value``.

    Order-independent, so the same attribute set always gives the same document.
    """
    result = dict(flat)
    while True:
        keys = sorted(result)
        clashing = [k for i, k in enumerate(keys) if any(o.startswith(k + ".") for o in keys[i + 1 :])]
        if not clashing:
            return result
        for key in clashing:
            target = key + ".value"
            while target in result:
                target += "_"
            result[target] = result.pop(key)


def field_name(key: Any) -> str:
    """A key Elasticsearch accepts as a field name: no empty segments (``"a..b"``, ``".x"``, ``""``)."""
    return ".".join(part for part in str(key).split(".") if part) or "_"


def clean_attributes(attributes: Mapping[str, Any], max_chars: int, depth: int = 0) -> dict[str, Any]:
    """Attribute keys made valid field names and collision-free, values made valid JSON."""
    result: dict[str, Any] = {}
    for key, value in attributes.items():
        name = field_name(key)
        while name in result:  # "a..b" and "a.b" both became "a.b": keep both
            name += "_"
        result[name] = clean_value(value, max_chars, depth)
    return resolve_collisions(result)


def _put(doc: dict[str, Any], dotted: str, value: Any) -> bool:
    """Sets ``doc[a][b][c] = value`` for ``a.b.c``; False (doc unchanged) when a leaf is in the way.

    A leaf landing on an existing object goes to its ``value`` key, as :func:`resolve_collisions` does.
    """
    parts = dotted.split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node.get(part, {})
        if not isinstance(node, dict):
            return False
    last = node.get(parts[-1]) if isinstance(node, dict) else None
    if last is not None and not (isinstance(last, dict) and "value" not in last and not isinstance(value, dict)):
        return False
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if isinstance(node.get(parts[-1]), dict):
        node[parts[-1]]["value"] = value
    else:
        node[parts[-1]] = value
    return True


def _exception_text(exc: BaseException | None) -> dict[str, str]:
    if exc is None:
        return {}
    return {
        "exception.type": type(exc).__name__,
        "exception.message": str(exc),
        "exception.stacktrace": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def _body(body: Any, max_chars: int) -> tuple[str, Any]:
    """(text for ``message``, structured value or None)."""
    if isinstance(body, str):
        return clean_value(body, max_chars), None
    if body is None:
        return "", None
    cleaned = clean_value(body, max_chars)
    if isinstance(cleaned, str):  # bytes and unknown objects
        return cleaned, None
    return clean_value(_to_text(cleaned), max_chars), cleaned


def _ids(record: ReadableLogRecord) -> tuple[str | None, str | None]:
    lr = record.log_record
    trace_id = f"{lr.trace_id:032x}" if lr.trace_id else None
    span_id = f"{lr.span_id:016x}" if lr.span_id else None
    return trace_id, span_id


def _level(record: ReadableLogRecord) -> str | None:
    lr = record.log_record
    if lr.severity_text:
        return lr.severity_text.lower()
    if lr.severity_number is not None:
        return lr.severity_number.name.lower().rstrip("0123456789") or None
    return None


def ecs_source(record: ReadableLogRecord, data_stream: tuple[str, str, str] | None, max_chars: int) -> dict[str, Any]:
    """The ECS document of ``record`` (see docs/elasticsearch.md for the field table)."""
    lr = record.log_record
    attributes = dict(lr.attributes or {})
    for key, value in _exception_text(getattr(lr, "exception", None)).items():
        attributes.setdefault(key, value)
    message, structured = _body(lr.body, max_chars)
    doc: dict[str, Any] = {"@timestamp": format_ns(record_time_ns(record)), "message": message}
    fields: dict[str, Any] = {"ecs.version": ECS_VERSION}
    level = _level(record)
    if level:
        fields["log.level"] = level
    if record.instrumentation_scope is not None and record.instrumentation_scope.name:
        fields["log.logger"] = record.instrumentation_scope.name
    if lr.severity_number is not None:
        fields["event.severity"] = lr.severity_number.value
    if lr.observed_timestamp:
        fields["event.created"] = format_ns(lr.observed_timestamp)
    if lr.event_name:
        fields["event.action"] = lr.event_name
    trace_id, span_id = _ids(record)
    if trace_id:
        fields["trace.id"] = trace_id
    if span_id:
        fields["span.id"] = span_id
    labels: dict[str, Any] = {}
    resource: dict[str, Any] = dict(record.resource.attributes) if record.resource is not None else {}
    for key, value in resource.items():
        target = _ECS_RESOURCE.get(key)
        if target is not None:
            fields.setdefault(target, clean_value(value, max_chars))
        elif not key.startswith("telemetry."):
            labels[key.replace(".", "_")] = _label(value, max_chars)
    for key, target in _ECS_ORIGIN.items():
        if key in attributes and target not in fields:
            fields[target] = clean_value(attributes[key], max_chars)
    for key, target in _ECS_ERROR.items():
        if key in attributes:
            fields[target] = clean_value(attributes.pop(key), max_chars)
    if data_stream is not None:
        fields["data_stream.type"], fields["data_stream.dataset"], fields["data_stream.namespace"] = data_stream
    for key in sorted(fields):
        _put(doc, key, fields[key])
    if structured is not None:
        doc.setdefault("otel_bridge", {})["body"] = structured
    doc["labels"] = {}  # reserved first, so an attribute called "labels" lands in labels.value
    for key, value in clean_attributes(attributes, max_chars).items():
        if not _put(doc, key, value):
            labels[key.replace(".", "_")] = _label(value, max_chars)
    for key, value in labels.items():
        doc["labels"].setdefault(key, value)
    if not doc["labels"]:
        del doc["labels"]
    return doc


def _label(value: Any, max_chars: int) -> str:
    cleaned = clean_value(value, max_chars)
    return cleaned if isinstance(cleaned, str) else _to_text(cleaned)


def otel_source(record: ReadableLogRecord, data_stream: tuple[str, str, str] | None, max_chars: int) -> dict[str, Any]:
    """The document shape of Elastic's OTel-native ``logs-*.otel-*`` data streams."""
    lr = record.log_record
    attributes = dict(lr.attributes or {})
    for key, value in _exception_text(getattr(lr, "exception", None)).items():
        attributes.setdefault(key, value)
    doc: dict[str, Any] = {"@timestamp": format_ns(record_time_ns(record))}
    if lr.observed_timestamp:
        doc["observed_timestamp"] = format_ns(lr.observed_timestamp)
    if lr.severity_text:
        doc["severity_text"] = lr.severity_text
    if lr.severity_number is not None:
        doc["severity_number"] = lr.severity_number.value
    text, structured = _body(lr.body, max_chars)
    if structured is None:
        doc["body"] = {"text": text}
    else:
        doc["body"] = {"structured": structured if isinstance(structured, dict) else {"value": structured}}
    if lr.event_name:
        doc["event_name"] = lr.event_name
    trace_id, span_id = _ids(record)
    if trace_id:
        doc["trace_id"] = trace_id
    if span_id:
        doc["span_id"] = span_id
    doc["attributes"] = clean_attributes(attributes, max_chars)
    if record.dropped_attributes:
        doc["dropped_attributes_count"] = record.dropped_attributes
    scope = record.instrumentation_scope
    if scope is not None:
        doc["scope"] = {k: v for k, v in (("name", scope.name), ("version", scope.version)) if v}
        if scope.attributes:
            doc["scope"]["attributes"] = clean_attributes(scope.attributes, max_chars)
    resource = dict(record.resource.attributes) if record.resource is not None else {}
    doc["resource"] = {"attributes": clean_attributes(resource, max_chars)}
    if data_stream is not None:
        doc["data_stream"] = dict(zip(("type", "dataset", "namespace"), data_stream, strict=False))
    return doc


# ECS fields a rescued document keeps; every other top-level field is folded into one text field.
_ECS_CORE = frozenset(
    {"@timestamp", "message", "log", "service", "trace", "span", "error", "event", "ecs", "data_stream", "host"}
)


def rescue_source(source: Mapping[str, Any]) -> dict[str, Any] | None:
    """``source`` with everything that can clash with an existing index mapping (record attributes,
    structured bodies) folded into the text field ``otel_bridge.unmapped``; None if already folded.

    Used when Elasticsearch refuses a document with a mapping error: the record is kept, searchable
    by its message, time, level, service and trace, instead of being lost.
    """
    own = source.get("otel_bridge")
    if isinstance(own, dict) and "unmapped" in own:
        return None
    if "ecs" in source:
        kept = {k: v for k, v in source.items() if k in _ECS_CORE}
        moved = {k: v for k, v in source.items() if k not in _ECS_CORE}
    else:
        kept = {k: v for k, v in source.items() if k not in ("attributes", "scope", "body")}
        moved = {k: source[k] for k in ("attributes", "scope") if k in source}
        body = source.get("body")
        if isinstance(body, dict) and "structured" in body:
            moved["body"] = body
            kept["body"] = {"text": _to_text(body["structured"])}
        elif body is not None:
            kept["body"] = body
        scope = source.get("scope")
        if isinstance(scope, dict):
            kept["scope"] = {k: v for k, v in scope.items() if k != "attributes"}
    kept["otel_bridge"] = {"unmapped": _to_text(moved)}
    return kept


def rescue(doc: Document) -> Document | None:
    """:func:`rescue_source` for a serialised document; same ``_id`` (the original never landed)."""
    try:
        safe = rescue_source(json.loads(doc.source))
    except ValueError:
        return None
    if safe is None:
        return None
    return Document(doc.id, doc.index, serialize(safe), doc.time_ns)


def serialize(source: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the bytes the ``_id`` is hashed from."""
    return json.dumps(source, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )


def document_id(source: bytes) -> str:
    """A 26-character id derived from the serialised document (stable across retries and processes)."""
    digest = hashlib.blake2b(source, digest_size=16).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


class IdWindow:
    """Gives each emission its own ``_id``: a document whose id was handed out among the last ``size``
    ones (the same content and timestamps emitted again) gets ``<id>-1``, ``<id>-2`` … instead of
    answering 409 and being lost. Bounded memory; the sequence of emissions makes it deterministic.
    """

    def __init__(self, size: int = 8192) -> None:
        self._order: collections.deque[str] = collections.deque()
        self._ids: set[str] = set()
        self._size = size

    def unique(self, doc: Document) -> Document:
        """``doc``, or a copy with a suffixed id when its id was issued recently."""
        doc_id, n = doc.id, 0
        while doc_id in self._ids:
            n += 1
            doc_id = f"{doc.id}-{n}"
        if len(self._order) >= self._size:
            self._ids.discard(self._order.popleft())
        self._order.append(doc_id)
        self._ids.add(doc_id)
        return doc if not n else Document(doc_id, doc.index, doc.source, doc.time_ns)


def to_document(
    record: ReadableLogRecord,
    index: str,
    mapping: str,
    data_stream: tuple[str, str, str] | None = None,
    max_chars: int = 256 * 1024,
) -> Document:
    """Builds the :class:`Document` of ``record`` for ``index`` in the given mapping."""
    build = otel_source if mapping == "otel" else ecs_source
    source = serialize(build(record, data_stream, max_chars))
    return Document(id=document_id(source), index=index, source=source, time_ns=record_time_ns(record))
