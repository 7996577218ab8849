"""configure_otel() with an elasticsearch exporter; the no-argument OTel entry-point exporter; setup."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

from otel_bridge import configure_otel
from otel_bridge.exporters import registry
from otel_bridge.exporters.elasticsearch import SPEC
from otel_bridge.exporters.elasticsearch.exporter import ElasticsearchLogExporter, options_from_env
from tests.elasticsearch.conftest import RESOURCE, fast_options


def config(url: str, **extra: object) -> dict:
    entry = {
        "hosts": [url],
        "index": "logs-shop-default",
        "username": "elastic",
        "password": "s3cret-pw",
        "retry": {"initial_backoff": 0.01, "max_backoff": 0.05, "max_elapsed": 10},
        "batch": {"schedule_delay_ms": 20},
        **extra,
    }
    return {
        "service": {"name": "shop", "version": "2.3.1", "environment": "test"},
        "logs": {"level": "INFO", "exporters": ["es_main"]},
        "exporters": {"es_main": {"type": "elasticsearch", **entry}},
    }


def test_configure_otel_sends_app_logs_through_the_yaml_entry(es) -> None:
    es.faults.item_429_every = 4
    # One mapping conflict: the exporter logs a warning (otel_bridge.*) in the middle of exporting.
    es.faults.reject_400 = lambda doc: isinstance(doc.get("order"), dict) and doc["order"].get("id") == 3
    bridge = configure_otel(config(es.url))
    log = logging.getLogger("shop.checkout")
    for i in range(20):
        log.info("order %d placed", i, extra={"order.id": i})
    try:
        raise KeyError("sku-9")
    except KeyError:
        log.exception("checkout failed")
    assert bridge.force_flush(10)
    docs = list(es.seen.docs.values())
    assert len(docs) == 21 and len(es.seen.created) == 21
    failed = next(d for d in docs if d["message"] == "checkout failed")
    assert failed["error"]["type"] == "KeyError" and "sku-9" in failed["error"]["stack_trace"]
    assert {k: failed["service"][k] for k in ("name", "version", "environment")} == {
        "name": "shop",
        "version": "2.3.1",
        "environment": "test",
    }
    assert failed["log"]["logger"] == "shop.checkout" and failed["log"]["level"] == "error"
    # The exporter's own client logged warnings (node marked dead/alive …) — none became a document.
    assert not [d for d in docs if d["log"]["logger"].startswith(("elastic", "otel_bridge", "urllib3"))]
    status = bridge.status()["exporters"]["es_main"]
    assert status["sent"] == 21 and status["retried"] > 0 and status["queued"] == 0
    assert status["rescued"] == 1 and status["dropped"] == 0
    assert "s3cret-pw" not in json.dumps(bridge.status())
    assert bridge.shutdown(5)


def test_setup_installs_an_index_template(es) -> None:
    bridge = configure_otel(config(es.url, setup=True, mapping="otel"))
    logging.getLogger("app").warning("hello")
    assert bridge.force_flush(10)
    template = es.seen.templates["otel-bridge-es_main"]
    assert template["index_patterns"] == ["logs-shop-default"] and template["data_stream"] == {}
    assert es.seen.docs and next(iter(es.seen.docs.values()))["body"] == {"text": "hello"}
    assert bridge.shutdown(5)


def test_setup_failure_is_not_fatal(dead_port: int) -> None:
    bridge = configure_otel(config(f"http://127.0.0.1:{dead_port}", setup=True, request_timeout=0.5))
    logging.getLogger("app").warning("still fine")
    assert bridge.shutdown(3)


def test_spec_is_registered_and_importable_without_the_client() -> None:
    assert registry.get("elasticsearch") is SPEC
    assert SPEC.extra == "elasticsearch" and SPEC.requires == ("elasticsearch",)
    assert "s3cret" not in SPEC.describe(fast_options("http://elastic:s3cret@es:9200"))


def test_no_argument_exporter_reads_the_environment(es, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", f"{es.url}, http://127.0.0.1:1")
    monkeypatch.setenv("OTEL_BRIDGE_ES_INDEX", "logs-env-default")
    monkeypatch.setenv("OTEL_BRIDGE_ES_MAPPING", "otel")
    monkeypatch.setenv("OTEL_BRIDGE_ES_SPOOL_DIR", str(tmp_path))
    monkeypatch.setenv("OTEL_BRIDGE_ES_SPOOL_MAX_BYTES", "10MiB")
    monkeypatch.setenv("ELASTICSEARCH_VERIFY_CERTS", "false")
    options = options_from_env()
    assert options.hosts == [es.url, "http://127.0.0.1:1"] and options.verify_certs is False
    assert options.spool is not None and options.spool.max_bytes == 10 * 1024 * 1024
    monkeypatch.setenv("ELASTICSEARCH_URL", es.url)
    exporter = ElasticsearchLogExporter()  # how OTEL_LOGS_EXPORTER=elasticsearch builds it
    provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    provider.get_logger("app").emit(LogRecord(body="via env", severity_number=SeverityNumber.INFO))
    assert provider.force_flush(5_000)
    provider.shutdown()
    (doc,) = es.seen.docs.values()
    assert doc["body"] == {"text": "via env"} and es.seen.index_of[next(iter(es.seen.docs))] == "logs-env-default"
    assert exporter.export([]).name == "FAILURE"  # after shutdown
