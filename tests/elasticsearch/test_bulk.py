"""The retry layer: backoff with jitter, the deadline, interruption by shutdown, one retry layer only."""

from __future__ import annotations

import threading
import time

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.bulk import Backoff, BulkSender, SendResult, make_client
from otel_bridge.exporters.elasticsearch.dead_letter import DeadLetter
from otel_bridge.exporters.elasticsearch.documents import Document
from otel_bridge.exporters.elasticsearch.options import RetryOptions
from tests.elasticsearch.conftest import fast_options


def docs(n: int) -> list[Document]:
    return [Document(f"id{i}", "logs-a-b", b'{"seq":%d}' % i, 0) for i in range(n)]


class FakeTime:
    """A clock that only moves when the sender sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.now += seconds
        return False


def sender_for(url: str, retry: RetryOptions, **kw) -> tuple[BulkSender, ExporterStats]:
    stats = ExporterStats("es", "elasticsearch")
    client = make_client(fast_options(url))
    return BulkSender(client, retry, stats, DeadLetter(None), **kw), stats


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    retry = RetryOptions(initial_backoff=1, max_backoff=8, max_elapsed=100)
    low, high = Backoff(retry, rand=lambda: 0.0), Backoff(retry, rand=lambda: 1.0)
    assert [low.delay(a) for a in range(5)] == [0.5, 1, 2, 4, 4]
    assert [high.delay(a) for a in range(5)] == [1, 2, 4, 8, 8]
    assert high.delay(0, retry_after=30) == 30  # Retry-After wins; the deadline still bounds it


def test_retries_stop_at_the_deadline(es) -> None:
    es.faults.whole_503 = 10_000
    fake = FakeTime()
    retry = RetryOptions(initial_backoff=1, max_backoff=10, max_elapsed=60)
    sender, stats = sender_for(es.url, retry, clock=fake.clock, sleep=fake.sleep, rand=lambda: 0.5)
    result = sender.send(docs(3))
    assert result.reason == "retry_exhausted" and len(result.left) == 3
    assert sum(fake.sleeps) <= 60
    assert fake.sleeps[:5] == [0.75, 1.5, 3.0, 6.0, 7.5]  # exponential, jittered (rand=0.5), capped
    assert es.seen.bulk_requests == len(fake.sleeps) + 1
    assert stats.count("retried") == 3 * len(fake.sleeps)


def test_the_transport_does_not_retry_on_its_own(es) -> None:
    es.faults.whole_429 = 5
    sender, _ = sender_for(es.url, RetryOptions(initial_backoff=0.01, max_backoff=0.01, max_elapsed=0.001))
    result = sender.send(docs(2))
    assert result.left and es.seen.bulk_requests == 1  # exactly our one attempt, no hidden retries


def test_shutdown_interrupts_a_retry_wait(es) -> None:
    es.faults.whole_503 = 10_000
    stop, waiting = threading.Event(), threading.Event()

    def sleep(seconds: float) -> bool:
        waiting.set()
        return stop.wait(seconds)

    retry = RetryOptions(initial_backoff=30, max_backoff=60, max_elapsed=600)
    sender, _ = sender_for(es.url, retry, stop=stop, sleep=sleep)
    outcome: dict[str, SendResult] = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("r", sender.send(docs(2))))
    worker.start()
    assert waiting.wait(5)  # the first attempt failed and a 15-30 s wait began
    started = time.monotonic()
    stop.set()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - started < 1
    assert outcome["r"].reason == "shutdown" and len(outcome["r"].left) == 2


def test_the_client_makes_no_spans_of_its_own(es) -> None:
    # elasticsearch-py traces every request through the global TracerProvider; exporting logs must not
    # create spans (they would go to Sentry and back): our client has it switched off, also per call.
    client = make_client(fast_options(es.url))
    assert client._otel.enabled is False
    sender, _ = sender_for(es.url, RetryOptions())
    assert sender.send(docs(1)).left == []
