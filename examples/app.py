"""A small service instrumented only with OpenTelemetry and `logging`.

    OTEL_BRIDGE_CONFIG=examples/console.yaml python examples/app.py        # everything on stdout
    OTEL_BRIDGE_CONFIG=examples/otel-bridge.yaml python examples/app.py    # Sentry, Elasticsearch, Prometheus
or, without touching the code:
    OTEL_BRIDGE_CONFIG=examples/otel-bridge.yaml opentelemetry-instrument python examples/app.py
"""

from __future__ import annotations

import logging
import time

from opentelemetry import metrics, trace

from otel_bridge import configure_otel

log = logging.getLogger("shop")
tracer = trace.get_tracer("shop")
orders = metrics.get_meter("shop").create_counter("shop.orders", unit="{order}")


def checkout(order_id: int) -> None:
    with tracer.start_as_current_span("checkout", attributes={"enduser.id": f"user-{order_id % 5}"}):
        log.info("order %d placed", order_id, extra={"order.id": order_id})
        orders.add(1, {"payment.method": "card"})
        if order_id % 4 == 0:
            try:
                raise RuntimeError("card declined")
            except RuntimeError:
                log.exception("payment failed", extra={"order.id": order_id})


if __name__ == "__main__":
    with configure_otel() as bridge:
        for i in range(1, 9):
            checkout(i)
            time.sleep(0.05)
        print(bridge.status())
