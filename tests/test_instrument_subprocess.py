"""``opentelemetry-instrument`` with OTEL_BRIDGE_CONFIG configures through the same code path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.servers.otlp_receiver import otlp_receiver

APP = textwrap.dedent(
    """
    import logging, logging.config
    from opentelemetry import metrics, trace
    import stocklib

    # The app configures logging itself after the wrapper configured the bridge (as frameworks do).
    logging.config.dictConfig({"version": 1, "root": {"level": "INFO", "handlers": []}})

    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("checkout"):
        logging.getLogger("shop").warning("order placed")
        stocklib.reserve("sku-1")
    metrics.get_meter("app").create_counter("orders").add(1)
    import otel_bridge.install as install
    print("BRIDGE", install.current() is not None, flush=True)
    """
)

# A library and its auto-instrumentation, installed the way instrumentation packages are: an
# ``opentelemetry_instrumentor`` entry point in a distribution's metadata.
LIBRARY = "def reserve(sku):\n    return sku\n"
INSTRUMENTOR = textwrap.dedent(
    """
    from opentelemetry import trace
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
    import stocklib

    class StockInstrumentor(BaseInstrumentor):
        def instrumentation_dependencies(self):
            return []

        def _instrument(self, **kwargs):
            tracer = trace.get_tracer("stocklib.instrumentation", tracer_provider=kwargs.get("tracer_provider"))
            original = stocklib.reserve

            def reserve(sku):
                with tracer.start_as_current_span("stocklib.reserve"):
                    return original(sku)

            stocklib._original, stocklib.reserve = original, reserve

        def _uninstrument(self, **kwargs):
            stocklib.reserve = stocklib._original
    """
)


def _install_fake_instrumentation(site: Path) -> None:
    site.mkdir()
    (site / "stocklib.py").write_text(LIBRARY)
    (site / "stocklib_instrumentation.py").write_text(INSTRUMENTOR)
    dist = site / "stocklib_instrumentation-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: stocklib-instrumentation\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\nstocklib = stocklib_instrumentation:StockInstrumentor\n"
    )


def test_opentelemetry_instrument_routes_all_three_signals(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        config = tmp_path / "cfg.yaml"
        config.write_text(
            textwrap.dedent(
                f"""
                service: {{name: instrumented-app}}
                traces: {{exporters: [otlp]}}
                logs: {{level: INFO, exporters: [otlp]}}
                metrics: {{exporters: [otlp]}}
                exporters:
                  otlp: {{endpoint: "{receiver.url}", interval_ms: 60000}}
                """
            )
        )
        app = tmp_path / "app.py"
        app.write_text(APP)
        _install_fake_instrumentation(tmp_path / "site")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["OTEL_BRIDGE_CONFIG"] = str(config)
        env["PYTHONPATH"] = str(tmp_path / "site")
        bindir = Path(sys.executable).parent
        result = subprocess.run(
            [str(bindir / "opentelemetry-instrument"), sys.executable, str(app)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "BRIDGE True" in result.stdout
        spans = receiver.spans()
        names = sorted(s.name for s in spans)
        assert "checkout" in names
        # Auto-instrumentation still works under our configurator: the library's span, in the same trace.
        client = [s for s in spans if s.name == "stocklib.reserve"]
        assert client, names
        checkout = next(s for s in spans if s.name == "checkout")
        assert client[0].trace_id == checkout.trace_id
        bodies = [lr.body.string_value for lr in receiver.logs()]
        assert bodies.count("order placed") == 1  # one handler only: no duplicate from the logging instrumentor
        assert "orders" in receiver.metric_names()
        assert any(n.startswith("otel_bridge.exporter.") for n in receiver.metric_names())
