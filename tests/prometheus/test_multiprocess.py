"""Forked workers: one endpoint, exact totals, also after a worker is killed and replaced."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.prometheus.conftest import scrape, value_of

FORK = multiprocessing.get_context("fork")


def _worker(provider: Any, count: int, ready: Any, stop: Any) -> None:
    meter = provider.get_meter("app")
    jobs = meter.create_counter("jobs")
    latency = meter.create_histogram("job.duration", unit="s")
    inflight = meter.create_up_down_counter("jobs.inflight")
    temperature = meter.create_gauge("temperature")
    for _ in range(count):
        jobs.add(1, {"kind": "batch"})
        latency.record(0.02)
    inflight.add(1)
    temperature.set(float(os.getpid() % 97))
    provider.force_flush()  # writes this worker's snapshot now
    ready.set()
    stop.wait(30)


def _start(provider: Any, count: int) -> Any:
    # One stop event per worker: a multiprocessing Event whose waiter was SIGKILLed cannot be set.
    ready, stop = FORK.Event(), FORK.Event()
    proc = FORK.Process(target=_worker, args=(provider, count, ready, stop), daemon=True)
    proc.start()
    assert ready.wait(15), "worker did not start"
    proc.stop = stop
    return proc


def _stop_all(workers: list[Any]) -> None:
    for proc in workers:
        if proc.is_alive():
            proc.stop.set()
    for proc in workers:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)


def _pids(text: str, metric: str) -> set[str]:
    return set(re.findall(rf'^{metric}{{[^}}]*pid="(\d+)"', text, flags=re.M))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_three_forked_workers_exact_totals_survive_kill_and_replace(make_reader: Any, tmp_path: Path) -> None:
    reader, provider = make_reader(
        multiprocess=True, multiprocess_dir=str(tmp_path / "mp"), multiprocess_interval_ms=60_000
    )
    url = reader.endpoint.url()
    meter = provider.get_meter("app")
    # Recorded by the parent before forking: inherited by every child, but must count once.
    meter.create_counter("jobs").add(100, {"kind": "batch"})

    workers = [_start(provider, n) for n in (10, 20, 30)]
    seen: list[float] = []
    try:
        text = scrape(url)
        seen.append(value_of(text, 'jobs_total{kind="batch",otel_scope_name="app"}') or 0)
        assert seen[-1] == 160
        assert value_of(text, 'job_duration_seconds_count{otel_scope_name="app"}') == 60
        assert value_of(text, 'job_duration_seconds_bucket{le="0.025",otel_scope_name="app"}') == 60
        assert value_of(text, 'jobs_inflight{otel_scope_name="app"}') == 3  # up-down counters add up
        assert _pids(text, "temperature") == {str(w.pid) for w in workers}  # gauges: one series per pid
        assert text.count("# TYPE jobs_total counter") == 1

        victim = workers[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        text = scrape(url)
        seen.append(value_of(text, 'jobs_total{kind="batch",otel_scope_name="app"}') or 0)
        assert seen[-1] == 160  # the dead worker's last snapshot is archived, not lost
        assert value_of(text, 'jobs_inflight{otel_scope_name="app"}') == 2
        assert str(victim.pid) not in _pids(text, "temperature")

        workers.append(_start(provider, 40))  # the replacement
        text = scrape(url)
        seen.append(value_of(text, 'jobs_total{kind="batch",otel_scope_name="app"}') or 0)
        assert seen[-1] == 200
        assert value_of(text, 'job_duration_seconds_count{otel_scope_name="app"}') == 100
        assert value_of(text, 'jobs_inflight{otel_scope_name="app"}') == 3
        assert seen == sorted(seen)  # never backwards
        archive = (tmp_path / "mp" / "archive.json").read_text()
        assert f'"{victim.pid}:' in archive
    finally:
        _stop_all(workers)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_gauge_rule_aggregates_instead_of_pid_label(make_reader: Any, tmp_path: Path) -> None:
    reader, provider = make_reader(multiprocess=True, multiprocess_dir=str(tmp_path / "mp"), multiprocess_gauge="max")
    workers = [_start(provider, 1) for _ in range(2)]
    try:
        text = scrape(reader.endpoint.url())
        assert 'pid="' not in text
        expected = max(float(w.pid % 97) for w in workers)
        assert value_of(text, 'temperature{otel_scope_name="app"}') == expected
    finally:
        _stop_all(workers)


def test_a_worker_takes_the_port_over_when_it_frees_up(make_reader: Any, tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        reader, provider = make_reader(
            port=port, multiprocess=True, multiprocess_dir=str(tmp_path / "mp"), multiprocess_interval_ms=50
        )
        assert reader.endpoint.server is None  # another process serves
        assert reader.stats.state == "ok"  # expected in multi-process mode, not an error
    deadline = time.monotonic() + 5
    while reader.endpoint.server is None and time.monotonic() < deadline:
        time.sleep(0.05)  # bounded wait for the snapshot thread's next bind attempt
    provider.get_meter("m").create_counter("served").add(1)
    assert value_of(scrape(f"http://127.0.0.1:{port}/metrics"), 'served_total{otel_scope_name="m"}') == 1


def test_files_of_an_earlier_run_are_not_summed(make_reader: Any, tmp_path: Path) -> None:
    mp = tmp_path / "mp"
    mp.mkdir()
    (mp / "session").write_text("1:old")
    stale = '{"folded": [], "families": [{"n": "jobs", "k": "counter", "s": [[[], 1000]]}]}'
    (mp / "archive.json").write_text(stale)
    reader, provider = make_reader(multiprocess=True, multiprocess_dir=str(mp))
    provider.get_meter("m").create_counter("jobs").add(1)
    text = scrape(reader.endpoint.url())
    assert value_of(text, 'jobs_total{otel_scope_name="m"}') == 1
    assert "jobs_total 1000" not in text


def _mp_config(port: int, directory: Path) -> dict[str, Any]:
    return {
        "metrics": {"exporters": ["prometheus"]},
        "exporters": {
            "prometheus": {"host": "127.0.0.1", "port": port, "multiprocess": True, "multiprocess_dir": str(directory)}
        },
    }


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_snapshot_directory_is_private_and_a_planted_one_is_refused(port: int, tmp_path: Path) -> None:
    import otel_bridge
    from otel_bridge.config import ConfigError

    mine = tmp_path / "mine"
    with otel_bridge.configure_otel(_mp_config(port, mine)) as bridge:
        bridge.meter_provider.force_flush()
        assert mine.stat().st_mode & 0o777 == 0o700  # other local users can neither read nor inject
    # Another user could have made the (predictable) directory first and fill it with fake snapshots.
    planted = tmp_path / "planted"
    planted.mkdir()
    planted.chmod(0o777)
    (planted / "w-1.json").write_text('{"token": "1:?", "families": []}')
    with pytest.raises(ConfigError, match="multiprocess_dir"):
        otel_bridge.configure_otel(_mp_config(port, planted))
    with socket.socket() as again:  # refused before binding: the port is not left taken
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
    if os.getuid() == 0:
        planted.chmod(0o700)
        os.chown(planted, 65534, 65534)
        with pytest.raises(ConfigError, match="owned by"):
            otel_bridge.configure_otel(_mp_config(port, planted))


def test_configure_again_in_a_process_keeps_its_counts(port: int, tmp_path: Path) -> None:
    """A second configure_otel() in a worker starts a new MeterProvider from zero: the old one's
    counts are kept (folded like a finished worker's), so the summed counter never goes back."""
    import otel_bridge

    config = _mp_config(port, tmp_path / "mp")
    url = f"http://127.0.0.1:{port}/metrics"
    first = otel_bridge.configure_otel(config)
    first.meter_provider.get_meter("m").create_counter("jobs").add(5)
    first.meter_provider.get_meter("m").create_up_down_counter("busy").add(2)
    assert value_of(scrape(url), 'jobs_total{otel_scope_name="m"}') == 5
    second = otel_bridge.configure_otel(config)  # hands the port over, then shuts `first` down
    second.meter_provider.get_meter("m").create_counter("jobs").add(1)
    for _ in range(2):  # stable across scrapes: folded once, never counted twice
        text = scrape(url)
        assert value_of(text, 'jobs_total{otel_scope_name="m"}') == 6
        assert value_of(text, 'busy{otel_scope_name="m"}') is None  # the old provider's in-flight work is gone
    second.shutdown()
    assert sorted(p.name for p in (tmp_path / "mp").glob("w-*")) != []  # the last snapshot is kept
