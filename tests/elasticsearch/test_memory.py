"""200k records with Elasticsearch down and no spool: memory stays bounded and every loss is counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORDS = 200_000
RSS_GROWTH_BOUND_MB = 40  # measured ≈ 4 MB: the queue holds at most 2048 records / 32 MiB

APP = """
import json, logging, sys, time
import psutil
from otel_bridge import configure_otel
port, n = int(sys.argv[1]), int(sys.argv[2])
bridge = configure_otel({
    "service": {"name": "shop"},
    "logs": {"level": "INFO", "exporters": ["es"]},
    "exporters": {"es": {"type": "elasticsearch", "hosts": [f"http://127.0.0.1:{port}"],
                         "retry": {"initial_backoff": 0.05, "max_backoff": 0.5, "max_elapsed": 600}}},
})
log = logging.getLogger("app")
proc = psutil.Process()
for i in range(3000):  # fill the queue once so the baseline includes it
    log.info("warm-up %d", i)
base = proc.memory_info().rss
slowest = 0.0
for i in range(n):
    t = time.perf_counter()
    log.info("order %d for %s", i, "customer", extra={"seq": i, "cart": "x" * 200})
    slowest = max(slowest, time.perf_counter() - t)
peak = proc.memory_info().rss
running = bridge.status()["exporters"]["es"]
bridge.shutdown(timeout_s=3)
final = bridge.status()["exporters"]["es"]
print(json.dumps({"growth_mb": (peak - base) / 2**20, "slowest_s": slowest, "running": running, "final": final}))
"""


def test_200k_records_backend_down_no_spool(dead_port: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", APP, str(dead_port), str(RECORDS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(result)
    assert result["growth_mb"] < RSS_GROWTH_BOUND_MB
    running, final = result["running"], result["final"]
    total = RECORDS + 3000
    assert running["dropped_by_reason"]["queue_full"] >= total - 2048 - 512
    assert running["queued"] <= 2048
    assert final["sent"] == 0
    assert final["dropped"] == total  # every record is accounted for, by reason
    assert set(final["dropped_by_reason"]) <= {"queue_full", "shutdown", "retry_exhausted", "unavailable"}
    assert result["slowest_s"] < 0.5  # logging never waited on the network


def test_a_huge_value_is_cut_on_the_way_in_not_dropped_with_its_record(es, harness) -> None:
    # A value bigger than the whole queue budget used to cost the record (queue_full) although the
    # document keeps only max_value_chars of it. It is cut when queued: same document, same _id.
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import ReadableLogRecord

    from otel_bridge.exporters.elasticsearch.documents import TRUNCATED, to_document
    from tests.elasticsearch.conftest import RESOURCE, fast_options

    options = fast_options(es.url, max_value_chars=1000, batch={"max_queue_bytes": "1MiB", "schedule_delay_ms": 20})
    h = harness(options)
    huge = {
        "timestamp": 1,
        "observed_timestamp": 2,
        "body": "b" * 3_000_000,
        "attributes": {"blob": b"\x01" * 3_000_000},
    }
    h.logger.emit(LogRecord(**huge))
    assert h.processor.force_flush(5_000)
    assert h.stats.dropped() == {}
    (doc_id, doc) = next(iter(es.seen.docs.items()))
    assert doc["message"] == "b" * 1000 + TRUNCATED and doc["blob"].endswith(TRUNCATED)
    full = ReadableLogRecord(
        LogRecord(**huge), resource=RESOURCE, instrumentation_scope=h.logger._instrumentation_scope
    )
    assert doc_id == to_document(full, "logs-shop-default", "ecs", ("logs", "shop", "default"), 1000).id
