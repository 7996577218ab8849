"""Backend down for a whole run: bounded exit, records on disk; backend back: the spool drains them all
exactly once (``otel-bridge spool drain`` and the exporter's own background replay)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

from otel_bridge.exporters.elasticsearch.cli import spool_command
from otel_bridge.exporters.elasticsearch.spool import Spool
from tests.elasticsearch.conftest import fast_options

REPO = Path(__file__).resolve().parents[2]
N = 500
SHUTDOWN_TIMEOUT = 3.0

APP = """
import json, logging, sys, time
from otel_bridge import configure_otel
config = json.loads(sys.argv[1])
bridge = configure_otel(config)
log = logging.getLogger("app")
for i in range(1, int(sys.argv[2]) + 1):
    log.info("order %d", i, extra={"seq": i})
started = time.monotonic()
finished = bridge.shutdown(timeout_s=float(sys.argv[3]))
print(json.dumps({"shutdown_s": time.monotonic() - started, "finished": finished,
                  "es": bridge.status()["exporters"]["es"]}))
"""


def es_config(url: str, spool: Path) -> dict:
    return {
        "service": {"name": "shop"},
        "logs": {"level": "INFO", "exporters": ["es"]},
        "exporters": {
            "es": {
                "type": "elasticsearch",
                "hosts": [url],
                "index": "logs-shop-default",
                "password": "s3cret-pw",
                "username": "elastic",
                # A long retry budget: only the shutdown can end it in time.
                "retry": {"initial_backoff": 0.05, "max_backoff": 1, "max_elapsed": 600},
                "spool": {"directory": str(spool), "max_bytes": "64MiB", "fsync": False},
                "shutdown_timeout": SHUTDOWN_TIMEOUT - 0.5,
            }
        },
    }


def run_app(config: dict, n: int) -> dict:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", APP, json.dumps(config), str(n), str(SHUTDOWN_TIMEOUT)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - started
    return result


def test_outage_spools_then_drain_delivers_all_once(tmp_path: Path, dead_port: int, es) -> None:
    spool_dir = tmp_path / "spool"
    result = run_app(es_config(f"http://127.0.0.1:{dead_port}", spool_dir), N)

    assert result["finished"] and result["shutdown_s"] < SHUTDOWN_TIMEOUT
    status = result["es"]
    assert status["sent"] == 0 and status["dropped"] == 0
    assert status["spooled"] == N
    assert "s3cret-pw" not in json.dumps(result)
    on_disk = Spool(spool_dir / "es", 1 << 30).status()
    assert on_disk.records == N

    options = fast_options(es.url, spool={"directory": str(spool_dir)})
    out = io.StringIO()
    assert spool_command(options, "es", "status", out) == 0
    assert f"es: {N} records" in out.getvalue()

    out = io.StringIO()
    assert spool_command(options, "es", "drain", out) == 0, out.getvalue()
    assert f"drained {N} of {N}" in out.getvalue()
    assert sorted(d["seq"] for d in es.seen.docs.values()) == list(range(1, N + 1))
    assert len(es.seen.created) == N  # none twice

    out = io.StringIO()
    assert spool_command(options, "es", "drain", out) == 0
    assert "drained 0 of 0" in out.getvalue()
    assert len(es.seen.created) == N


def test_otel_bridge_spool_cli_drains_what_an_outage_left(tmp_path: Path, dead_port: int, es) -> None:
    import yaml

    from otel_bridge import cli

    spool_dir = tmp_path / "spool"
    config = es_config(f"http://127.0.0.1:{dead_port}", spool_dir)
    run_app(config, 50)
    config["exporters"]["es"]["hosts"] = [es.url]  # the backend is back
    path = tmp_path / "otel-bridge.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["spool", "status", str(path)], out, err) == 0, err.getvalue()
    assert "es: 50 records" in out.getvalue()
    assert cli.main(["spool", "drain", str(path)], out, err) == 0, err.getvalue()
    assert "drained 50 of 50" in out.getvalue()
    assert "s3cret-pw" not in out.getvalue() + err.getvalue()
    assert sorted(d["seq"] for d in es.seen.docs.values()) == list(range(1, 51))
    assert len(es.seen.created) == 50


def test_drain_while_still_down_keeps_everything(tmp_path: Path, dead_port: int) -> None:
    spool_dir = tmp_path / "spool"
    run_app(es_config(f"http://127.0.0.1:{dead_port}", spool_dir), 20)
    options = fast_options(
        f"http://127.0.0.1:{dead_port}",
        spool={"directory": str(spool_dir)},
        retry={"initial_backoff": 0.01, "max_backoff": 0.02, "max_elapsed": 0.2},
    )
    out = io.StringIO()
    assert spool_command(options, "es", "drain", out) == 1
    assert "20 left" in out.getvalue()
    assert Spool(spool_dir / "es", 1 << 30).status().records == 20


def test_next_start_replays_the_spool_in_the_background(tmp_path: Path, dead_port: int, es, harness) -> None:
    spool_dir = tmp_path / "spool"
    run_app(es_config(f"http://127.0.0.1:{dead_port}", spool_dir), 100)
    h = harness(fast_options(es.url, spool={"directory": str(spool_dir), "fsync": False}), name="es")
    assert es.wait_for_docs(100, timeout=10)
    h.emit(5)  # new records still flow while (or after) the backlog is replayed
    assert h.processor.force_flush(5_000)
    assert len(es.seen.docs) == 105
    assert len(es.seen.created) == len(set(es.seen.created))
    assert Spool(spool_dir / "es", 1 << 30).status().records == 0


def test_replaying_already_delivered_documents_creates_nothing_new(tmp_path: Path, es, harness) -> None:
    # A crash between "delivered" and "removed from the spool": the same documents are sent again.
    options = fast_options(es.url, spool={"directory": str(tmp_path), "fsync": False})
    h = harness(fast_options(es.url), name="es")  # no spool: nothing else drains concurrently
    h.emit(30)
    assert h.processor.force_flush(5_000)
    docs = [d for d in h.pipeline.encode([])]
    assert docs == []
    from otel_bridge.exporters.elasticsearch.documents import Document

    copies = [
        Document(i, es.seen.index_of[i], json.dumps(s, sort_keys=True).encode(), 0) for i, s in es.seen.docs.items()
    ]
    spool = Spool(tmp_path / "es", 1 << 30)
    spool.append(copies)
    spool.seal()
    out = io.StringIO()
    assert spool_command(options, "es", "drain", out) == 0, out.getvalue()
    assert es.seen.conflicts == 30 and len(es.seen.created) == 30
    assert "30 delivered (30 of them already there)" in out.getvalue()


def test_shutdown_is_bounded_when_the_backend_accepts_but_never_answers(tmp_path: Path, harness) -> None:
    import socket

    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)  # connections complete, no byte ever comes back
        url = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        options = fast_options(
            url,
            request_timeout=30,
            retry={"initial_backoff": 0.01, "max_backoff": 0.05, "max_elapsed": 600},
            spool={"directory": str(tmp_path), "fsync": False},
            shutdown_timeout=1.0,
        )
        h = harness(options, name="es")
        h.emit(120)
        started = time.monotonic()
        h.processor.shutdown()
        assert time.monotonic() - started < 1.5
        # Everything is on disk: the queue and the batch stuck in flight (spooled by shutdown itself).
        ids = {
            d.id
            for seg in Spool(tmp_path / "es", 1 << 30).sealed_segments()
            for d in Spool(tmp_path / "es", 1 << 30).read(seg)
        }
        assert len(ids) == 120


def test_check_command_reports_version_or_unreachable(es, dead_port: int) -> None:
    from otel_bridge.exporters.elasticsearch.cli import check_command

    out = io.StringIO()
    assert check_command(fast_options(es.url), "es", out) == 0
    assert "OK, Elasticsearch 9.1.0 (cluster my_test_cluster)" in out.getvalue()
    es.root_info = {**es.root_info, "version": {**es.root_info["version"], "number": "8.17.0"}}
    assert check_command(fast_options(es.url), "es", out) == 1
    assert "needs a 9.x server" in out.getvalue()
    out = io.StringIO()
    url = f"http://elastic:pw-secret@127.0.0.1:{dead_port}"
    assert check_command(fast_options(url, request_timeout=1), "es", out) == 1
    assert "cannot reach" in out.getvalue() and "pw-secret" not in out.getvalue()


ENTRY_POINT_APP = """
import sys, time
from opentelemetry._logs import LogRecord, SeverityNumber, get_logger_provider
from opentelemetry.sdk._configuration import _init_logging
from otel_bridge.exporters.elasticsearch.exporter import ElasticsearchLogExporter
# What OTEL_LOGS_EXPORTER=elasticsearch does: the provider (with its atexit shutdown) first, then our
# exporter with no arguments under the SDK's BatchLogRecordProcessor.
_init_logging({"elasticsearch": ElasticsearchLogExporter}, setup_logging_handler=False)
logger = get_logger_provider().get_logger("app")
for i in range(1, int(sys.argv[1]) + 1):
    logger.emit(LogRecord(body=f"order {i}", attributes={"seq": i}, severity_number=SeverityNumber.INFO))
time.sleep(0.3)  # the SDK worker is now inside export(), retrying
print(time.monotonic(), flush=True)
"""


def test_entry_point_mode_exits_within_its_shutdown_timeout_and_keeps_the_records(
    tmp_path: Path, dead_port: int
) -> None:
    # The SDK's processor waits up to 30 s for its worker (here: inside export(), retrying with a
    # 120 s budget) before it calls our shutdown(); exit must take only the exporter's shutdown_timeout,
    # with every record on disk.
    import os

    env = {
        **os.environ,
        "ELASTICSEARCH_URL": f"http://127.0.0.1:{dead_port}",
        "OTEL_BRIDGE_ES_SPOOL_DIR": str(tmp_path),
        "OTEL_BRIDGE_ES_SHUTDOWN_TIMEOUT": "1",
        "OTEL_BLRP_SCHEDULE_DELAY": "50",
    }
    proc = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT_APP, "300"], capture_output=True, text=True, timeout=90, cwd=REPO, env=env
    )
    ended = time.monotonic()
    assert proc.returncode == 0, proc.stderr
    exit_s = ended - float(proc.stdout.strip().splitlines()[-1])
    assert exit_s < 1 + 1.5, f"exit took {exit_s:.1f} s"
    spool = Spool(tmp_path / "elasticsearch", 1 << 30)
    seqs = sorted(json.loads(d.source)["seq"] for seg in spool.sealed_segments() for d in spool.read(seg))
    assert seqs == list(range(1, 301))
