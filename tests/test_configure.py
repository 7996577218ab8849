"""configure_otel(): providers, the root handler, reconfiguration without stacking, status, shutdown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from opentelemetry import metrics, trace

from otel_bridge import configure_otel
from otel_bridge._internal.handler import BridgeLoggingHandler
from tests.memory_exporter import INSTANCES, memory_config


def bridge_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, BridgeLoggingHandler)]


def test_signals_reach_the_configured_exporter() -> None:
    bridge = configure_otel(memory_config())
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("work"):
        logging.getLogger("app").warning("inside %s", "span")
    metrics.get_meter("m").create_counter("orders").add(3, {"k": "v"})
    assert bridge.force_flush(5)
    mem = INSTANCES["mem"]
    (span,) = mem["traces"].get_finished_spans()
    (record,) = mem["logs"].get_finished_logs()
    assert span.name == "work"
    assert record.log_record.body == "inside span"
    assert record.log_record.trace_id == span.context.trace_id  # correlated
    assert span.resource.attributes["service.name"] == "test-service"
    points = [
        p
        for rm in mem["metrics"].get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "orders"
        for p in m.data.data_points
    ]
    assert [p.value for p in points] == [3]


def test_configure_twice_replaces_without_stacking() -> None:
    tracer = trace.get_tracer("early")  # taken before any configuration, as instrumentations do
    counter = metrics.get_meter("early").create_counter("hits")
    first = configure_otel(memory_config())
    first_mem = INSTANCES.pop("mem")
    second = configure_otel(memory_config())
    second_mem = INSTANCES["mem"]

    assert first.state == "shutdown" and second.state == "running"
    assert len(bridge_handlers()) == 1
    with tracer.start_as_current_span("after"):
        logging.getLogger("app").error("once")
    counter.add(2)
    second.force_flush(5)
    assert [s.name for s in second_mem["traces"].get_finished_spans()] == ["after"]
    assert [r.log_record.body for r in second_mem["logs"].get_finished_logs()] == ["once"]
    assert first_mem["traces"].get_finished_spans() == ()
    assert len(second.tracer_provider._active_span_processor._span_processors) == 1
    data = second_mem["metrics"].get_metrics_data()
    values = [
        p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "hits"
        for p in m.data.data_points
    ]
    assert values == [2]


def test_observable_callback_moves_to_the_new_configuration() -> None:
    calls: list[int] = []

    def observe(_options: object) -> list[metrics.Observation]:
        calls.append(1)
        return [metrics.Observation(7)]

    metrics.get_meter("obs").create_observable_gauge("temperature", callbacks=[observe])
    configure_otel(memory_config())
    configure_otel(memory_config())
    data = INSTANCES["mem"]["metrics"].get_metrics_data()
    names = [m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert "temperature" in names


def test_root_level_lowered_to_logs_level_and_restored() -> None:
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    bridge = configure_otel(memory_config())
    assert root.level == logging.INFO
    bridge.shutdown(timeout_s=5)
    assert root.level == logging.WARNING
    assert bridge_handlers() == []


def test_status_is_per_exporter_and_secret_free() -> None:
    config = memory_config()
    config["exporters"]["collector"] = {"type": "otlp", "endpoint": "http://user:hunter2@127.0.0.1:9/"}
    config["traces"]["exporters"].append("collector")
    bridge = configure_otel(config)
    status = bridge.status()
    assert status["state"] == "running" and status["installed_globally"] is True
    assert set(status["exporters"]) == {"mem", "collector"}
    assert status["exporters"]["collector"]["target"] == "http/protobuf http://user:***@127.0.0.1:9/"
    assert "hunter2" not in repr(status)
    for key in ("sent", "failed", "retried", "dropped", "queued", "spooled"):
        assert key in status["exporters"]["mem"]
    bridge.shutdown(timeout_s=1)  # the collector is unreachable; shutdown stays bounded


def test_sdk_disabled_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    bridge = configure_otel(memory_config())
    assert bridge.state == "disabled"
    assert bridge_handlers() == []
    assert "mem" not in INSTANCES


def test_config_from_env_then_file_then_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from otel_bridge.config import resolve_source

    monkeypatch.chdir(tmp_path)
    assert resolve_source(None) == "<built-in default>"
    (tmp_path / "otel-bridge.yaml").write_text("service: {name: from-file}\n")
    assert resolve_source(None) == "otel-bridge.yaml"
    monkeypatch.setenv("OTEL_BRIDGE_CONFIG", str(tmp_path / "other.yaml"))
    assert resolve_source(None) == str(tmp_path / "other.yaml")


def test_service_section_wins_over_env_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=payments,service.name=attr-env")
    config = memory_config()
    bridge = configure_otel(config)
    attrs = bridge.tracer_provider.resource.attributes
    assert attrs["service.name"] == "test-service" and attrs["team"] == "payments"
    del config["service"]
    bridge = configure_otel(config)
    assert bridge.tracer_provider.resource.attributes["service.name"] == "from-env"


def test_shutdown_is_idempotent_and_context_manager() -> None:
    with configure_otel(memory_config()) as bridge:
        assert bridge.state == "running"
    assert bridge.state == "shutdown"
    assert bridge.shutdown() is True
    assert bridge.force_flush(1) is False


def test_many_logger_names_all_exported_past_the_logger_cache() -> None:
    bridge = configure_otel(memory_config())
    for i in range(1100):  # more names than the handler caches: the cache refills, nothing is lost
        logging.getLogger(f"app.module{i}").warning("m%d", i)
    bridge.force_flush(10)
    records = INSTANCES["mem"]["logs"].get_finished_logs()
    assert len(records) == 1100
    assert {r.instrumentation_scope.name for r in records} == {f"app.module{i}" for i in range(1100)}


def test_plain_sdk_exporters_are_counted_in_status() -> None:
    bridge = configure_otel(memory_config())
    with trace.get_tracer("t").start_as_current_span("one"):
        logging.getLogger("app").warning("two")
    bridge.force_flush(5)
    mem = bridge.status()["exporters"]["mem"]
    assert (mem["sent"], mem["failed"]) == (2, 0)
    INSTANCES["mem"]["traces"].shutdown()  # the in-memory exporter now answers FAILURE
    with trace.get_tracer("t").start_as_current_span("three"):
        pass
    bridge.force_flush(5)
    mem = bridge.status()["exporters"]["mem"]
    assert (mem["sent"], mem["failed"]) == (2, 1)


def test_exporter_failing_to_start_is_a_config_error_and_stops_the_others() -> None:
    import threading

    from otel_bridge import ConfigError
    from otel_bridge.exporters import registry
    from otel_bridge.exporters.base import ExporterOptions, ExporterSpec

    def broken(ctx: object) -> object:
        raise OSError("cannot open /etc/certs/ca.pem for https://user:hunter2@es:9200")

    registry.register(ExporterSpec("broken", frozenset({"logs"}), ExporterOptions, build=broken))
    before = {t for t in threading.enumerate() if t.name.startswith("OtelBatch")}
    config = memory_config(logs={"exporters": ["mem", "bad"]})
    config["exporters"]["bad"] = {"type": "broken"}
    with pytest.raises(ConfigError) as caught:
        configure_otel(config)
    (problem,) = caught.value.problems
    assert str(problem).startswith("exporters.bad: cannot start (OSError: cannot open /etc/certs/ca.pem")
    assert "hunter2" not in str(problem)
    leftover = {t for t in threading.enumerate() if t.name.startswith("OtelBatch") and t.is_alive()} - before
    assert leftover == set()  # the span and log processors built for "mem" were stopped
    assert bridge_handlers() == []


def test_app_logging_config_after_configure_keeps_the_bridge_handler() -> None:
    import logging.config

    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        bridge = configure_otel(memory_config())
        # What frameworks do at startup, after opentelemetry-instrument configured the bridge.
        logging.config.dictConfig(
            {
                "version": 1,
                # The default (True) would disable every logger other tests use, for the whole session.
                "disable_existing_loggers": False,
                "handlers": {"null": {"class": "logging.NullHandler"}},
                "root": {"level": "WARNING", "handlers": ["null"]},
            }
        )
        logging.basicConfig(level=logging.WARNING)
        assert len(bridge_handlers()) == 1
        assert any(isinstance(h, logging.NullHandler) for h in root.handlers)  # the app's config applied
        logging.getLogger("app").info("after dictConfig")
        bridge.force_flush(5)
        assert [r.log_record.body for r in INSTANCES["mem"]["logs"].get_finished_logs()] == ["after dictConfig"]
    finally:
        root.handlers[:] = saved


def test_global_provider_answers_like_the_sdk_provider() -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    bridge = configure_otel(memory_config())
    extra = InMemorySpanExporter()
    # What libraries and older integrations do with the global provider.
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(extra))  # type: ignore[attr-defined]
    with trace.get_tracer("t").start_as_current_span("seen twice"):
        pass
    assert trace.get_tracer_provider().force_flush() is True  # type: ignore[attr-defined]
    assert trace.get_tracer_provider().resource is bridge.tracer_provider.resource  # type: ignore[attr-defined]
    assert metrics.get_meter_provider().force_flush() is True  # type: ignore[attr-defined]
    assert [s.name for s in extra.get_finished_spans()] == ["seen twice"]
