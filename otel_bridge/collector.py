"""``otel-bridge collector``: the same routing as an OpenTelemetry Collector (contrib) configuration.

Pure: a validated :class:`BridgeConfig` in, a mapping out. Secrets are never copied: each becomes an
``${env:NAME}`` reference the collector resolves from its own environment, and the header lists the
variables to set. The app then sends OTLP to the collector — one list edit in its YAML.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from otel_bridge.config.models import BridgeConfig

_SIGNALS = ("traces", "logs", "metrics")


def _env_name(name: str, field: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", f"{name}_{field}".upper()).strip("_")


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class _Builder:
    def __init__(self) -> None:
        self.exporters: dict[str, Any] = {}
        self.extensions: dict[str, Any] = {}
        self.env: list[str] = []
        self.notes: list[str] = []

    def secret(self, name: str, field: str) -> str:
        var = _env_name(name, field)
        if var not in self.env:
            self.env.append(var)
        return f"${{env:{var}}}"

    def elasticsearch(self, name: str, o: Any) -> str:
        key = f"elasticsearch/{name}"
        cfg: dict[str, Any] = {}
        if o.cloud_id:
            cfg["cloudid"] = o.cloud_id
        else:
            cfg["endpoints"] = [_strip_userinfo(h) for h in o.hosts]
        if "%" in o.index:
            prefix = o.index.split("%", 1)[0].rstrip("-._") or "logs"
            cfg["logs_index"] = prefix
            cfg["logstash_format"] = {"enabled": True, "prefix_separator": "-", "date_format": "%Y.%m.%d"}
            self.notes.append(
                f"{key}: dated index '{o.index}' mapped to logstash_format (daily, '{prefix}-YYYY.MM.DD')"
            )
        else:
            cfg["logs_index"] = o.index
        cfg["mapping"] = {"mode": o.mapping}
        if o.username:
            cfg["user"] = o.username
            cfg["password"] = self.secret(name, "password")
        if o.api_key is not None:
            cfg["api_key"] = self.secret(name, "api_key")
        tls: dict[str, Any] = {}
        if o.ca_certs:
            tls["ca_file"] = str(o.ca_certs)
        if not o.verify_certs:
            tls["insecure_skip_verify"] = True
        if tls:
            cfg["tls"] = tls
        retry = o.retry
        cfg["retry"] = {
            "enabled": True,
            "initial_interval": f"{getattr(retry, 'initial_backoff', 1)}s",
            "max_interval": f"{getattr(retry, 'max_backoff', 30)}s",
            "retry_on_status": [429, 502, 503, 504],
        }
        if o.spool is not None:
            storage = f"file_storage/{name}"
            self.extensions[storage] = {"directory": str(o.spool.directory), "create_directory": True}
            cfg["sending_queue"] = {"enabled": True, "storage": storage}
        self.exporters[key] = cfg
        return key

    def sentry(self, name: str, o: Any, signal: str) -> str | None:
        if signal != "traces":
            self.notes.append(
                f"{name}: Sentry error events from log records have no collector equivalent; keep the in-process "
                "sentry exporter on logs (logs: {exporters: [otlp, " + name + "]})"
            )
            return None
        key = f"sentry/{name}"
        cfg: dict[str, Any] = {"dsn": self.secret(name, "dsn")}
        if o.environment:
            cfg["environment"] = o.environment
        self.exporters[key] = cfg
        return key

    def prometheus(self, name: str, o: Any) -> str:
        key = f"prometheus/{name}"
        cfg: dict[str, Any] = {
            "endpoint": f"{o.host}:{o.port}",
            "enable_open_metrics": True,
            "resource_to_telemetry_conversion": {"enabled": bool(o.resource_constant_labels)},
        }
        if o.certfile:
            cfg["tls"] = {"cert_file": o.certfile, **({"key_file": o.keyfile} if o.keyfile else {})}
        self.exporters[key] = cfg
        return key

    def otlp(self, name: str, o: Any) -> str:
        grpc = o.protocol == "grpc"
        key = f"{'otlp' if grpc else 'otlphttp'}/{name}"
        cfg: dict[str, Any] = {"endpoint": _strip_userinfo(o.endpoint)}
        if o.headers:
            cfg["headers"] = {h: self.secret(name, h) for h in o.headers}
        if o.compression != "none":
            cfg["compression"] = o.compression
        self.exporters[key] = cfg
        return key

    def debug(self, name: str, type_name: str) -> str:
        key = "debug"
        self.exporters[key] = {"verbosity": "basic"}
        if type_name != "console":
            self.notes.append(f"{name}: type '{type_name}' writes local files; the collector prints to its log instead")
        return key


def collector_config(config: BridgeConfig, port_grpc: int = 4317, port_http: int = 4318) -> dict[str, Any]:
    """The collector configuration routing OTLP input as ``config`` routes in process."""
    build = _Builder()
    pipelines: dict[str, Any] = {}
    for signal in _SIGNALS:
        names: list[str] = getattr(config, signal).exporters
        targets: list[str] = []
        for name in names:
            type_name, options = config.resolved[name]
            key: str | None
            if type_name == "elasticsearch":
                key = build.elasticsearch(name, options)
            elif type_name == "sentry":
                key = build.sentry(name, options, signal)
            elif type_name == "prometheus":
                key = build.prometheus(name, options)
            elif type_name == "otlp":
                key = build.otlp(name, options)
            else:
                key = build.debug(name, type_name)
            if key is not None and key not in targets:
                targets.append(key)
        if targets:
            pipelines[signal] = {
                "receivers": ["otlp"],
                "processors": ["memory_limiter", "batch"],
                "exporters": targets,
            }
    out: dict[str, Any] = {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{port_grpc}"},
                    "http": {"endpoint": f"0.0.0.0:{port_http}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
            "batch": {"send_batch_size": 1000, "timeout": "1s"},
        },
        "exporters": build.exporters,
    }
    if build.extensions:
        out["extensions"] = build.extensions
    service: dict[str, Any] = {"pipelines": pipelines}
    if build.extensions:
        service["extensions"] = list(build.extensions)
    out["service"] = service
    out["_meta"] = {"env": build.env, "notes": build.notes}
    return out


def render(config: BridgeConfig) -> str:
    """The collector configuration as YAML text, with the variables to set and the app-side change."""
    data = collector_config(config)
    meta = data.pop("_meta")
    lines = [
        "# OpenTelemetry Collector (contrib) configuration generated by `otel-bridge collector`",
        f"# from {config.source}. Same routing as in process; the app now sends OTLP here:",
        "#   exporters: {otlp: {endpoint: http://<collector>:4318}}",
        "#   traces/logs/metrics: {exporters: [otlp]}",
    ]
    if meta["env"]:
        lines.append("# Set in the collector's environment (secrets are never copied here):")
        lines += [f"#   {var}" for var in meta["env"]]
    if meta["notes"]:
        lines.append("# Notes:")
        lines += [f"#   - {note}" for note in meta["notes"]]
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
