"""OTel spans → Sentry spans and transactions. Pure: no I/O, no clock, no globals.

The event-wide fields (release, environment, user, tags, contexts from the resource) are shared
with error events, see :func:`base_event`. Every dict built here must pass Relay's
``StoreNormalizer`` without errors or ``_meta`` (``tests/sentry`` checks that).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from otel_bridge._internal.redact import redact_text
from otel_bridge.exporters.sentry import semconv

FILTERED = "[Filtered]"
PLATFORM = "python"
# Relay's limits for a few fields; longer values would be trimmed and noted in ``_meta``.
MAX_TAG_KEY = 200
MAX_TAG_VALUE = 200
MAX_TRANSACTION = 200
MAX_MESSAGE = 8192
MAX_BREADCRUMB_MESSAGE = 2048


@dataclass(frozen=True)
class Settings:
    """What the conversion needs from the exporter's options (built once per exporter)."""

    environment: str | None = None
    release: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    tag_attributes: Sequence[str] = ()
    send_default_pii: bool = False
    scrub_keys: Sequence[str] = ()
    max_value_length: int = 8192
    sdk_name: str = "otel-bridge"
    sdk_version: str = "0.0.0"

    @classmethod
    def from_options(cls, options: Any, sdk_version: str = "0.0.0") -> Settings:
        """Settings from a validated ``SentryPayloadOptions``."""
        return cls(
            environment=options.environment,
            release=options.release,
            tags=dict(options.tags),
            tag_attributes=tuple(options.tag_attributes),
            send_default_pii=options.send_default_pii,
            scrub_keys=tuple(k.lower() for k in options.scrub_keys),
            max_value_length=options.max_value_length,
            sdk_version=sdk_version,
        )


# -- values ------------------------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def hide_credentials(text: str) -> str:
    """Free text (a message, an exception value) with the credentials of every URL in it hidden:
    drivers put their connection URL, password included, into error messages."""
    return redact_text(text) if "://" in text else text


def is_scrubbed(key: str, settings: Settings) -> bool:
    """True when ``key`` names a value that must not leave the process."""
    lowered = key.lower()
    return any(word in lowered for word in settings.scrub_keys)


def clean_value(value: Any, settings: Settings) -> Any:
    """An attribute value as JSON Relay accepts: strings cut, sequences as lists, NaN as text; secret
    keys of nested mappings filtered and URL credentials / secret query values hidden at any depth."""
    if isinstance(value, str):
        if "://" in value and _URL.match(value):
            value = scrub_url(value, settings)
        return truncate(value, settings.max_value_length)
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return truncate(value.decode("utf-8", "replace"), settings.max_value_length)
    if isinstance(value, Mapping):
        return {
            str(k): FILTERED if is_scrubbed(str(k), settings) else clean_value(v, settings) for k, v in value.items()
        }
    if isinstance(value, Iterable):
        return [clean_value(v, settings) for v in value]
    return truncate(repr(value), settings.max_value_length)


# A whole value that is one URL (no spaces): its userinfo and query are checked for secrets.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


def scrub_url(url: str, settings: Settings) -> str:
    """``url`` with its userinfo (a password, or a bare token as user) and secret-looking query values
    replaced by ``[Filtered]``; returned unchanged when there is nothing to hide."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{FILTERED}@{host}" if sep else f"{FILTERED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_scrubbed(k, settings) for k, _ in pairs):
            query = urlencode([(k, FILTERED if is_scrubbed(k, settings) else v) for k, v in pairs], safe="[]")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _is_url_key(key: str) -> bool:
    return key in ("url.full", "http.url", "http.target", "url.query", "db.connection_string") or key.endswith(".url")


def clean_attributes(attrs: Mapping[str, Any] | None, settings: Settings, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Attributes as Sentry ``data``: secrets filtered, values cleaned, ``skip`` keys left out."""
    skipped = set(skip)
    out: dict[str, Any] = {}
    for key, value in (attrs or {}).items():
        if key in skipped:
            continue
        if not settings.send_default_pii and is_pii(key):
            continue
        if is_scrubbed(key, settings):
            out[key] = FILTERED
        elif isinstance(value, str) and _is_url_key(key):
            text = scrub_url("?" + value, settings)[1:] if key == "url.query" else scrub_url(value, settings)
            out[key] = clean_value(text, settings)
        else:
            out[key] = clean_value(value, settings)
    return out


# Attributes that identify a person or their machine: kept only with send_default_pii.
_PII_KEYS = frozenset(
    {
        "client.address",
        "client.socket.address",
        "http.client_ip",
        "net.sock.peer.addr",
        "net.peer.ip",
        "network.peer.address",
        "source.address",
        "enduser.email",
        "user.email",
    }
)
# Request headers (``http.request.header.<name>``) that carry the client's address.
_PII_HEADERS = frozenset(
    {
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "true-client-ip",
        "cf-connecting-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "fastly-client-ip",
        "x-original-forwarded-for",
    }
)
_HEADER_PREFIX = "http.request.header."


def is_pii(key: str) -> bool:
    """True for attributes sent only with ``send_default_pii`` (client addresses, e-mail)."""
    lowered = key.lower()
    if lowered.startswith(_HEADER_PREFIX):
        return lowered[len(_HEADER_PREFIX) :].replace("_", "-") in _PII_HEADERS
    return lowered in _PII_KEYS


# -- event-wide fields ---------------------------------------------------------------------------------


_TAG_KEY_BAD = re.compile(r"[^A-Za-z0-9_.:-]")


def _tag_key(key: str) -> str:
    return _TAG_KEY_BAD.sub("_", key.strip())[:MAX_TAG_KEY]


def _tag_value(value: Any) -> str:
    text = " ".join(str(value).split())  # Relay refuses control characters and empty values
    return text[:MAX_TAG_VALUE]


def _put_tag(tags: dict[str, str], key: str, value: Any) -> None:
    clean_key, clean_value = _tag_key(key), _tag_value(value)
    if clean_key and clean_value:
        tags[clean_key] = clean_value


_FORBIDDEN_RELEASES = frozenset({".", "..", "latest"})


def _one_line(value: Any) -> str:
    text = str(value)
    for char in "\r\n\t/\\":
        text = text.replace(char, " " if char in "\r\n\t" else "-")
    return text.strip()


def clean_release(value: Any) -> str | None:
    """``value`` as a release Relay accepts (no slashes or line breaks, ≤ 200 characters), or None
    for values Sentry refuses (empty, ``.``, ``..``, ``latest``)."""
    if value is None:
        return None
    text = _one_line(value)[:200].strip()
    return text if text and text.lower() not in _FORBIDDEN_RELEASES else None


def clean_environment(value: Any) -> str | None:
    """``value`` as an environment Relay accepts (no slashes or line breaks, ≤ 64), or None."""
    if value is None:
        return None
    text = _one_line(value)[:64].strip()
    return text if text and text.lower() != "none" else None


def base_event(resource_attrs: Mapping[str, Any], attrs: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Fields every event and transaction carries: platform, sdk, release, environment, user, tags,
    contexts from the resource. ``attrs`` are the span's or record's own attributes."""
    event: dict[str, Any] = {
        "platform": PLATFORM,
        "sdk": {"name": settings.sdk_name, "version": settings.sdk_version},
    }
    release = clean_release(settings.release or resource_attrs.get("service.version"))
    if release:
        event["release"] = release
    environment = clean_environment(
        settings.environment or semconv.first(resource_attrs, "deployment.environment.name", "deployment.environment")
    )
    if environment:
        event["environment"] = environment
    host = resource_attrs.get("host.name")
    if host:
        event["server_name"] = truncate(str(host), 200)
    user = _user(attrs, resource_attrs, settings)
    if user:
        event["user"] = user
    tags: dict[str, str] = {}
    for key, value in settings.tags.items():
        _put_tag(tags, key, value)
    for key in settings.tag_attributes:
        found = semconv.first(attrs, key)
        if found is None:
            found = resource_attrs.get(key)
        if found is None or is_scrubbed(key, settings):
            continue
        if settings.send_default_pii or not is_pii(key):
            _put_tag(tags, key, clean_value(found, settings) if isinstance(found, str) else found)
    if tags:
        event["tags"] = tags
    event["contexts"] = resource_contexts(resource_attrs, settings)
    return event


def _user(attrs: Mapping[str, Any], resource_attrs: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    user: dict[str, Any] = {}
    user_id = semconv.first(attrs, "enduser.id", "user.id")
    if user_id is not None:
        user["id"] = str(user_id)
    name = semconv.first(attrs, "user.name", "enduser.name")
    if name is not None:
        user["username"] = str(name)
    extra = {
        key: clean_value(value, settings)
        for key, value in attrs.items()
        if key.startswith("enduser.") and key not in ("enduser.id", "enduser.name", "enduser.email")
    }
    if extra:
        user["data"] = extra
    if settings.send_default_pii:
        email = semconv.first(attrs, "enduser.email", "user.email")
        if email is not None:
            user["email"] = str(email)
        address = semconv.first(attrs, "client.address", "http.client_ip")
        if address is not None:
            user["ip_address"] = str(address)
    return user


def resource_contexts(resource_attrs: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The resource as Sentry contexts: all of it under ``otel``, plus ``runtime``, ``os``, ``app``."""
    contexts: dict[str, Any] = {
        "otel": {"resource": clean_attributes(resource_attrs, settings)},
    }
    runtime = resource_attrs.get("process.runtime.name")
    if runtime:
        contexts["runtime"] = {"name": str(runtime), "version": str(resource_attrs.get("process.runtime.version", ""))}
    os_type = resource_attrs.get("os.type")
    if os_type:
        contexts["os"] = {"name": str(os_type)}
        if resource_attrs.get("os.version"):
            contexts["os"]["version"] = str(resource_attrs["os.version"])
    service = resource_attrs.get("service.name")
    if service:
        app: dict[str, Any] = {"app_name": str(service)}
        if resource_attrs.get("service.version"):
            app["app_version"] = str(resource_attrs["service.version"])
        contexts["app"] = app
    return contexts


# -- spans ---------------------------------------------------------------------------------------------


def trace_id_hex(span: ReadableSpan) -> str:
    """The span's trace id as 32 lower-case hex digits."""
    return format_trace_id(span.context.trace_id) if span.context else ""


def span_id_hex(span: ReadableSpan) -> str:
    """The span's id as 16 lower-case hex digits."""
    return format_span_id(span.context.span_id) if span.context else ""


def is_local_root(span: ReadableSpan) -> bool:
    """A span without parent, whose parent is in another process, or whose parent was not sampled
    (so is never exported here) starts a transaction."""
    return span.parent is None or span.parent.is_remote or not span.parent.trace_flags.sampled


def ns_to_s(ns: int | None) -> float:
    """Nanoseconds since the epoch → float seconds (Sentry's timestamp format)."""
    return (ns or 0) / 1e9


def span_dict(span: ReadableSpan, settings: Settings) -> dict[str, Any]:
    """One Sentry span (a transaction's child, or the body of its trace context)."""
    attrs = span.attributes or {}
    op, description = semconv.op_and_description(span.name, span.kind, attrs)
    data = clean_attributes(attrs, settings, skip=("sentry.op", "sentry.description", "sentry.transaction"))
    data["otel.kind"] = span.kind.name
    if span.instrumentation_scope is not None and span.instrumentation_scope.name:
        data["otel.scope.name"] = span.instrumentation_scope.name
    if span.status.description:
        data["otel.status_description"] = truncate(hide_credentials(span.status.description), settings.max_value_length)
    out: dict[str, Any] = {
        "trace_id": trace_id_hex(span),
        "span_id": span_id_hex(span),
        "op": truncate(op, MAX_TRANSACTION),
        "description": truncate(description, settings.max_value_length),
        "start_timestamp": ns_to_s(span.start_time),
        "timestamp": ns_to_s(span.end_time or span.start_time),
        "status": semconv.span_status(span.status.status_code, attrs),
        "origin": "auto.otel",
        "data": data,
    }
    if span.parent is not None:
        out["parent_span_id"] = format_span_id(span.parent.span_id)
    if span.links:
        out["links"] = [
            {
                "trace_id": format_trace_id(link.context.trace_id),
                "span_id": format_span_id(link.context.span_id),
                "sampled": link.context.trace_flags.sampled,
                "attributes": clean_attributes(link.attributes, settings),
            }
            for link in span.links
        ]
    return out


def transaction_event(
    root: ReadableSpan, children: Sequence[ReadableSpan], settings: Settings, event_id: str
) -> dict[str, Any]:
    """A Sentry transaction for ``root`` and its descendants."""
    attrs = root.attributes or {}
    resource_attrs = dict(root.resource.attributes) if root.resource else {}
    event = base_event(resource_attrs, attrs, settings)
    name, source = semconv.transaction_name(root.name, root.kind, attrs)
    trace_context = span_dict(root, settings)
    for key in ("start_timestamp", "timestamp"):
        trace_context.pop(key)
    trace_context["type"] = "trace"
    event["contexts"]["trace"] = trace_context
    event.update(
        {
            "type": "transaction",
            "event_id": event_id,
            "transaction": truncate(name, MAX_TRANSACTION),
            "transaction_info": {"source": source},
            "start_timestamp": ns_to_s(root.start_time),
            "timestamp": ns_to_s(root.end_time or root.start_time),
            "spans": [span_dict(child, settings) for child in sorted(children, key=lambda s: s.start_time or 0)],
        }
    )
    request = _request(root, attrs, settings)
    if request:
        event["request"] = request
    return event


def _request(span: ReadableSpan, attrs: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    if span.kind is not SpanKind.SERVER:
        return {}
    method = semconv.first(attrs, "http.request.method", "http.method")
    if method is None:
        return {}
    request: dict[str, Any] = {"method": str(method)}
    url = semconv.first(attrs, "url.full", "http.url")
    if url is None:
        scheme = semconv.first(attrs, "url.scheme", "http.scheme")
        host = semconv.first(attrs, "server.address", "http.host", "net.host.name")
        path = semconv.first(attrs, "url.path", "http.target")
        if scheme and host and path:
            url = f"{scheme}://{host}{str(path).split('?', 1)[0]}"
    if url is not None:
        request["url"] = semconv.strip_url(str(url))
    return request
