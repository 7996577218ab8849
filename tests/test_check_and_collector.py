"""``otel-bridge check`` reaches each backend; ``otel-bridge collector`` prints the same routing."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import yaml

from otel_bridge.cli import main
from otel_bridge.collector import collector_config, render
from otel_bridge.config import load_config
from tests.servers.es_standin import ESStandIn

REPO = Path(__file__).resolve().parents[1]


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_check_reports_each_backend(tmp_path: Path) -> None:
    dead = _dead_port()
    with ESStandIn() as es:
        config = tmp_path / "c.yaml"
        config.write_text(
            f"""
logs: {{exporters: [es, files]}}
traces: {{exporters: [collector]}}
exporters:
  es: {{type: elasticsearch, hosts: ["{es.url}"], username: elastic, password: hunter2}}
  files: {{type: file, path: "{tmp_path}/out/logs.ndjson"}}
  collector: {{type: otlp, endpoint: "http://127.0.0.1:{dead}"}}
"""
        )
        out, err = io.StringIO(), io.StringIO()
        code = main(["check", str(config)], out=out, err=err)
    lines = {line.split(":", 1)[0]: line for line in out.getvalue().splitlines()}
    assert code == 1, lines
    assert lines["es"].startswith("es: OK, Elasticsearch 9.1.0 (cluster my_test_cluster)")
    assert lines["files"] == f"files: OK, NDJSON file {tmp_path}/out/logs.ndjson"
    assert lines["collector"].startswith(f"collector: FAILED, OTLP http/protobuf endpoint 127.0.0.1:{dead}: ")
    assert "hunter2" not in out.getvalue()


def test_collector_config_routes_like_the_yaml_and_copies_no_secret() -> None:
    env = {"SENTRY_DSN": "https://pubkey123@o1.ingest.sentry.io/42", "ELASTICSEARCH_PASSWORD": "hunter2"}
    config = load_config(REPO / "examples" / "otel-bridge.yaml", env=env)
    data = collector_config(config)
    pipelines = data["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["sentry/sentry"]
    assert pipelines["logs"]["exporters"] == ["elasticsearch/elasticsearch"]
    assert pipelines["metrics"]["exporters"] == ["prometheus/prometheus"]
    for pipeline in pipelines.values():
        assert pipeline["processors"] == ["memory_limiter", "batch"]
    es = data["exporters"]["elasticsearch/elasticsearch"]
    assert es["password"] == "${env:ELASTICSEARCH_PASSWORD}"
    assert es["sending_queue"]["storage"] == "file_storage/elasticsearch"
    assert data["exporters"]["prometheus/prometheus"]["endpoint"] == "0.0.0.0:9464"
    text = render(config)
    assert "hunter2" not in text and "pubkey123" not in text
    assert yaml.safe_load(text)["exporters"]["sentry/sentry"]["dsn"] == "${env:SENTRY_DSN}"


def test_checked_in_gateway_config_matches_the_example() -> None:
    """collector/gateway.yaml is generated from examples/otel-bridge.yaml; regenerate it when this fails."""
    config = load_config(REPO / "examples" / "otel-bridge.yaml", env={})
    config._source = "examples/otel-bridge.yaml"
    assert (REPO / "collector" / "gateway.yaml").read_text() == render(config)
