"""``setup: true``: an index template installed on start, best effort (a failure is logged, never fatal)."""

from __future__ import annotations

import logging
from typing import Any

from otel_bridge.exporters.elasticsearch.index import IndexNamer, data_stream_parts

_log = logging.getLogger("otel_bridge.elasticsearch")

PRIORITY = 250  # above the built-in logs-*-* template (100), below hand-made ones that use 500+

_ECS_PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date_nanos"},
    "message": {"type": "match_only_text"},
    "log": {"properties": {"level": {"type": "keyword"}, "logger": {"type": "keyword"}}},
    "trace": {"properties": {"id": {"type": "keyword"}}},
    "span": {"properties": {"id": {"type": "keyword"}}},
    "error": {
        "properties": {
            "type": {"type": "keyword"},
            "message": {"type": "match_only_text"},
            "stack_trace": {"type": "wildcard"},
        }
    },
    "labels": {"type": "object", "dynamic": True},
    "otel_bridge": {"properties": {"body": {"type": "flattened"}, "unmapped": {"type": "match_only_text"}}},
}

_OTEL_PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date_nanos"},
    "observed_timestamp": {"type": "date_nanos"},
    "severity_text": {"type": "keyword"},
    "severity_number": {"type": "byte"},
    "body": {"properties": {"text": {"type": "match_only_text"}, "structured": {"type": "flattened"}}},
    "trace_id": {"type": "keyword"},
    "span_id": {"type": "keyword"},
    "event_name": {"type": "keyword"},
    # Flat dotted keys: code.function and code.function.name are two independent fields.
    "attributes": {"type": "object", "subobjects": False},
    "scope": {"properties": {"attributes": {"type": "object", "subobjects": False}}},
    "resource": {"properties": {"attributes": {"type": "object", "subobjects": False}}},
    "otel_bridge": {"properties": {"unmapped": {"type": "match_only_text"}}},
}


def template_body(namer: IndexNamer, mapping: str) -> dict[str, Any]:
    """The ``_index_template`` body for the indices ``namer`` writes to."""
    patterns = namer.template_patterns()
    body: dict[str, Any] = {
        "index_patterns": patterns,
        "priority": PRIORITY,
        "template": {
            "mappings": {
                "dynamic_templates": [
                    {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword", "ignore_above": 1024}}}
                ],
                "properties": _OTEL_PROPERTIES if mapping == "otel" else _ECS_PROPERTIES,
            }
        },
        "_meta": {"managed_by": "otel-bridge"},
    }
    if all(data_stream_parts(p.replace("*", "x")) for p in patterns) and not namer.dated:
        body["data_stream"] = {}
    return body


def install(client: Any, name: str, namer: IndexNamer, mapping: str) -> bool:
    """PUTs the template ``otel-bridge-<name>``; True when Elasticsearch acknowledged it."""
    body = template_body(namer, mapping)
    try:
        client.indices.put_index_template(
            name=f"otel-bridge-{name}",
            index_patterns=body["index_patterns"],
            priority=body["priority"],
            template=body["template"],
            data_stream=body.get("data_stream"),
            meta=body["_meta"],
        )
    except Exception as exc:
        _log.warning("could not install the index template otel-bridge-%s: %s", name, exc)
        return False
    return True
