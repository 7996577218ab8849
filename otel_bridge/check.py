"""``otel-bridge check``: reach each configured backend once and say what answered.

One line per exporter entry that a signal uses; the exit status is 0 when all are usable. Probes
are read-only (no telemetry is sent) and bounded by a short timeout. Nothing secret is printed.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from otel_bridge._internal.redact import redact_text
from otel_bridge.config import BridgeConfig

TIMEOUT_S = 3.0


def _tcp(host: str, port: int) -> str | None:
    """None when a TCP connection opens, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _url_reachable(url: str, default_port: int) -> tuple[str, str | None]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else default_port)
    return f"{host}:{port}", _tcp(host, port)


def _writable(directory: Path) -> str | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if os.access(directory, os.W_OK) else "not writable"


def _probe(name: str, type_name: str, options: Any, out: TextIO) -> int:
    if type_name == "elasticsearch":
        from otel_bridge.exporters.elasticsearch.cli import check_command

        return check_command(options, name, out)
    problem: str | None
    if type_name == "sentry":
        where, problem = _url_reachable(options.dsn.get_secret_value(), 80)
        what = f"Sentry ingest at {where}"
    elif type_name == "otlp":
        default = 4317 if options.protocol == "grpc" else 4318
        where, problem = _url_reachable(options.endpoint, default)
        what = f"OTLP {options.protocol} endpoint {where}"
    elif type_name == "prometheus":
        what = f"metrics endpoint {options.host}:{options.port}"
        problem = None
        if options.serve == "port":
            with socket.socket() as sock:
                try:
                    sock.bind((options.host, options.port))
                except OSError as exc:
                    problem = f"cannot bind: {exc.strerror or exc}"
    elif type_name == "file":
        what = f"NDJSON file {options.path}"
        problem = _writable(Path(options.path).parent)
    elif type_name == "envelope_file":
        what = f"envelope directory {options.directory}"
        problem = _writable(Path(options.directory))
    else:
        out.write(f"{name}: type '{type_name}' has no check; skipped\n")
        return 0
    if problem is None:
        out.write(f"{name}: OK, {what}\n")
        return 0
    out.write(f"{name}: FAILED, {what}: {redact_text(problem)}\n")
    return 1


def run_checks(config: BridgeConfig, out: TextIO) -> int:
    """Probes every exporter a signal routes to; 0 when all answered, 1 otherwise."""
    status = 0
    for name in config.used_exporters():
        type_name, options = config.resolved[name]
        try:
            status = max(status, _probe(name, type_name, options, out))
        except Exception as exc:
            out.write(f"{name}: FAILED, {type(exc).__name__}: {redact_text(str(exc))}\n")
            status = 1
    return status
