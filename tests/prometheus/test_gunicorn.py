"""Real gunicorn, 3 workers, each configuring the bridge itself (no preload): one endpoint, exact totals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.prometheus.conftest import scrape, value_of
from tests.servers.prometheus_server import free_port

psutil = pytest.importorskip("psutil")

APP = """
import os
import otel_bridge

bridge = otel_bridge.configure_otel(os.environ["APP_CONFIG"])
meter = bridge.meter_provider.get_meter("app")
boots = meter.create_counter("worker.boots")
work = meter.create_counter("work.units")
boots.add(10)
bridge.meter_provider.force_flush()


def app(environ, start_response):
    n = int(environ.get("QUERY_STRING") or 0)
    work.add(n)
    bridge.meter_provider.force_flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""

CONFIG = """
service: {{name: gunicorn-app}}
metrics:
  exporters: [prometheus]
exporters:
  prometheus:
    host: 127.0.0.1
    port: {port}
    multiprocess: auto
    multiprocess_dir: {dir}
    multiprocess_interval_ms: 100
"""

BOOTS = 'worker_boots_total{otel_scope_name="app"}'
WORK = 'work_units_total{otel_scope_name="app"}'


def _wait(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(0.1)  # bounded poll on real processes
    raise AssertionError(f"{what} not reached in {timeout_s}s (last: {last!r})")


@pytest.fixture(params=[False, True], ids=["per-worker-config", "preload"])
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    binary = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if binary is None:
        pytest.skip("gunicorn is not installed")
    metrics_port, app_port = free_port(), free_port()
    (tmp_path / "app.py").write_text(APP)
    config = tmp_path / "otel-bridge.yaml"
    config.write_text(CONFIG.format(port=metrics_port, dir=tmp_path / "mp"))
    env = {**os.environ, "APP_CONFIG": str(config), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            "-w",
            "3",
            "-b",
            f"127.0.0.1:{app_port}",
            "--chdir",
            str(tmp_path),
            "--graceful-timeout",
            "3",
            *(["--preload"] if request.param else []),
            "app:app",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield {
            "proc": proc,
            "preload": request.param,
            "metrics": f"http://127.0.0.1:{metrics_port}/metrics",
            "metrics_port": metrics_port,
            "app": f"http://127.0.0.1:{app_port}/",
            "log": tmp_path / "gunicorn.log",
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _workers(master: int) -> list[Any]:
    return psutil.Process(master).children()


def _server_pid(master: int, port: int) -> int | None:
    for child in _workers(master):
        try:
            conns = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            return int(child.pid)
    return None


def test_gunicorn_three_workers_one_endpoint_exact_totals_across_restart(gunicorn: dict[str, Any]) -> None:
    """Without preload each worker configures itself and the first to bind serves; with ``--preload`` the
    master configures once, serves, and its pre-fork counts are not multiplied by the forked workers."""
    master = gunicorn["proc"].pid
    url = gunicorn["metrics"]
    preload = gunicorn["preload"]
    boots = 10 if preload else 30  # preload: the module (and its boots.add(10)) runs once, in the master

    def metric(series: str) -> float | None:
        return value_of(scrape(url), series)

    _wait(lambda: metric(BOOTS) == boots and len(_workers(master)) == 3, 20, "3 workers booted")
    for n in range(1, 11):
        urllib.request.urlopen(gunicorn["app"] + f"?{n}", timeout=5).read()
    assert metric(WORK) == 55
    assert metric(BOOTS) == boots

    # Kill the worker that serves the endpoint (preload: the master serves, so kill any worker).
    server = _server_pid(master, gunicorn["metrics_port"])
    if preload:
        assert server is None  # the port is bound by the master, not by a worker
        victim = _workers(master)[0].pid
    else:
        assert server is not None
        victim = server
    os.kill(victim, signal.SIGKILL)
    after = boots if preload else boots + 10  # gunicorn's replacement worker boots once more
    _wait(
        lambda: (
            victim not in {p.pid for p in _workers(master)} and len(_workers(master)) == 3 and metric(BOOTS) == after
        ),
        20,
        "replacement worker booted and the endpoint served",
    )
    assert metric(WORK) == 55  # the killed worker's share is archived: nothing went backwards
    urllib.request.urlopen(gunicorn["app"] + "?45", timeout=5).read()
    assert metric(WORK) == 100
    assert scrape(url).count("# TYPE work_units_total counter") == 1
    assert "Traceback" not in gunicorn["log"].read_text()
