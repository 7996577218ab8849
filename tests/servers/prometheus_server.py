"""A real Prometheus server on 127.0.0.1 scraping given targets every second, for tests.

Started with a temporary config and storage directory on an ephemeral port; readiness and query
results are waited for with bounded polls on its HTTP API; always stopped.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BINARY_CANDIDATES = ("prometheus", "/usr/bin/prometheus")


def find_binary() -> str | None:
    """Path of the prometheus server binary, or None."""
    for candidate in BINARY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(targets: list[str], path: str, scheme: str, basic_auth: tuple[str, str] | None) -> str:
    lines = [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 900ms",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: bridge",
        f"    metrics_path: {json.dumps(path)}",
        f"    scheme: {scheme}",
    ]
    if basic_auth is not None:
        lines += [
            "    basic_auth:",
            f"      username: {json.dumps(basic_auth[0])}",
            f"      password: {json.dumps(basic_auth[1])}",
        ]
    if scheme == "https":
        lines += ["    tls_config:", "      insecure_skip_verify: true"]
    lines += ["    static_configs:", f"      - targets: {json.dumps(targets)}"]
    return "\n".join(lines) + "\n"


class PrometheusServer:
    """A running Prometheus: :meth:`query`, :meth:`wait_for` and :meth:`targets` on its API."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def _get(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=5) as resp:
            return json.loads(resp.read())

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant-vector results of ``promql`` (``[{"metric": {...}, "value": [ts, "v"]}, ...]``)."""
        body = self._get("/api/v1/query", query=promql)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def exemplars(self, promql: str, window_s: float = 600) -> list[dict[str, Any]]:
        """Exemplars of ``promql`` over the last ``window_s`` (needs exemplar storage, which is on)."""
        now = time.time()
        body = self._get("/api/v1/query_exemplars", query=promql, start=str(now - window_s), end=str(now + 60))
        assert body["status"] == "success", body
        return list(body["data"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets")["data"]["activeTargets"])

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout_s: float = 15.0,
    ) -> list[dict[str, Any]]:
        """Polls ``promql`` until ``predicate(result)``; fails with the last result after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        result: list[dict[str, Any]] = []
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{promql!r} never satisfied the condition in {timeout_s}s; last result: {result}; "
                    f"targets: {[(t.get('scrapeUrl'), t.get('health'), t.get('lastError')) for t in self.targets()]}"
                )
            time.sleep(0.2)  # a bounded poll of a real server's API (scrapes happen once a second)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready after {timeout_s}s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def run_prometheus(
    targets: list[str],
    *,
    path: str = "/metrics",
    scheme: str = "http",
    basic_auth: tuple[str, str] | None = None,
    ready_timeout_s: float = 20.0,
) -> Iterator[PrometheusServer]:
    """Runs Prometheus scraping ``targets`` (``host:port``) until the block ends."""
    binary = find_binary()
    if binary is None:
        raise FileNotFoundError("prometheus binary not found")
    workdir = Path(tempfile.mkdtemp(prefix="otel-bridge-prom-"))
    config = workdir / "prometheus.yml"
    config.write_text(_config(targets, path, scheme, basic_auth))
    port = free_port()
    log_path = workdir / "prometheus.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--enable-feature=exemplar-storage",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path, ready_timeout_s)
        yield PrometheusServer(url, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
