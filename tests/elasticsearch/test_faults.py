"""Through the real client against the ES 9 stand-in: every record arrives exactly once, or is in the
dead-letter file with its reason, whatever faults the server injects."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from otel_bridge.exporters.elasticsearch.dead_letter import read_dead_letters
from tests.elasticsearch.conftest import fast_options
from tests.servers.es_standin import ESStandIn

N = 200


def seq_of(doc: dict) -> int:
    """The record's sequence number, also from a document rescued into ``otel_bridge.unmapped``."""
    if "seq" in doc:
        return int(doc["seq"])
    return int(json.loads(doc["otel_bridge"]["unmapped"])["seq"])


def assert_exactly_once(es: ESStandIn, expected: int) -> None:
    assert len(es.seen.created) == len(set(es.seen.created)), "a document was created twice"
    seqs = sorted(seq_of(doc) for doc in es.seen.docs.values())
    assert seqs == list(range(1, expected + 1))


@pytest.mark.parametrize(
    ("fault", "value", "retried"),
    [("whole_429", 3, True), ("whole_503", 2, True), ("item_429_every", 4, True)],
)
def test_retryable_faults_deliver_everything_once(es, harness, fault, value, retried) -> None:
    setattr(es.faults, fault, value)
    h = harness(fast_options(es.url))
    h.emit(N)
    assert h.processor.force_flush(10_000)
    assert_exactly_once(es, N)
    snap = h.stats.snapshot()
    assert snap["sent"] == N and snap["failed"] == 0 and snap["dropped"] == 0
    assert (snap["retried"] > 0) is retried
    if fault != "item_429_every":
        assert getattr(es.faults, fault) == 0  # every injected fault was actually hit


def test_retry_after_is_honoured(es, harness) -> None:
    es.faults.whole_429 = 1
    es.faults.retry_after = "0.3"
    h = harness(fast_options(es.url))
    h.emit(5)
    import time

    started = time.monotonic()
    assert h.processor.force_flush(10_000)
    assert time.monotonic() - started >= 0.3  # backoff alone would have waited ≤ 0.05 s
    assert_exactly_once(es, 5)


def test_connection_refused_for_a_while(es, harness) -> None:
    es.stop_listening()
    h = harness(fast_options(es.url, retry={"initial_backoff": 0.02, "max_backoff": 0.1, "max_elapsed": 15}))
    h.emit(N)
    back = threading.Timer(0.5, es.start_listening)
    back.start()
    try:
        assert h.processor.force_flush(15_000)
    finally:
        back.cancel()
        back.join()
    assert_exactly_once(es, N)
    assert h.stats.count("retried") > 0
    assert h.stats.dropped() == {}


def test_a_mapping_conflict_is_rescued_not_lost(es, harness) -> None:
    # As if "seq" were mapped as an object in this index: ES refuses those documents with a 400.
    poisoned = {7, 42, 150}
    es.faults.reject_400 = lambda doc: doc.get("seq") in poisoned
    h = harness(fast_options(es.url))
    h.emit(N)
    assert h.processor.force_flush(10_000)
    assert_exactly_once(es, N)
    rescued = [d for d in es.seen.docs.values() if "seq" not in d]
    assert sorted(seq_of(d) for d in rescued) == sorted(poisoned)
    assert all(d["message"].startswith("order ") and d["log"]["level"] == "info" for d in rescued)
    snap = h.stats.snapshot()
    assert snap["sent"] == N and snap["failed"] == 0 and snap["rescued"] == 3


def test_per_item_400_goes_to_the_dead_letter_file(es, harness, tmp_path: Path) -> None:
    poisoned = {7, 42, 150}
    # Refused whatever the shape (the message is kept by the rescue too): dead-lettered with the reason.
    es.faults.reject_400 = lambda doc: doc.get("message") in {f"order {i}" for i in poisoned}
    dead = tmp_path / "dead.ndjson"
    h = harness(fast_options(es.url, dead_letter=str(dead)))
    h.emit(N)
    assert h.processor.force_flush(10_000)
    stored = {seq_of(doc) for doc in es.seen.docs.values()}
    assert stored == set(range(1, N + 1)) - poisoned
    assert len(es.seen.created) == len(set(es.seen.created))
    entries = read_dead_letters(dead)
    assert {seq_of(e["document"]) for e in entries} == poisoned
    assert all(e["status"] == 400 and e["error"]["type"] == "document_parsing_exception" for e in entries)
    assert all("failed to parse" in e["error"]["reason"] for e in entries)
    snap = h.stats.snapshot()
    assert snap["failed"] == 3 and snap["sent"] == N - 3 and snap["dead_lettered"] == 3


def test_mapping_errors_go_straight_to_the_dead_letter_file_when_asked(es, harness, tmp_path: Path) -> None:
    es.faults.reject_400 = lambda doc: doc.get("seq") == 3
    dead = tmp_path / "dead.ndjson"
    h = harness(fast_options(es.url, dead_letter=str(dead), on_mapping_error="dead_letter"))
    h.emit(10)
    assert h.processor.force_flush(10_000)
    assert [e["document"]["seq"] for e in read_dead_letters(dead)] == [3]
    assert h.stats.count("retried") == 0  # a 400 is never retried as is


def test_a_request_too_large_is_split_until_it_fits(es, harness, tmp_path: Path) -> None:
    es.faults.max_body_bytes = 4_000  # a 50-document batch is ~20 kB: split down to a few documents
    dead = tmp_path / "dead.ndjson"
    h = harness(fast_options(es.url, dead_letter=str(dead)))
    n = 60
    h.emit(n - 1)
    h.emit(1, blob="x" * 5_000)  # too large even alone: refused for good, with the reason
    assert h.processor.force_flush(10_000)
    assert es.seen.too_large > 0
    assert len(es.seen.created) == len(set(es.seen.created))
    assert sorted(seq_of(d) for d in es.seen.docs.values()) == list(range(1, n))
    (entry,) = read_dead_letters(dead)
    assert seq_of(entry["document"]) == n and entry["status"] == 413
    snap = h.stats.snapshot()
    assert snap["sent"] == n - 1 and snap["failed"] == 1 and snap["dropped"] == 0


def test_a_whole_request_500_is_not_blamed_on_the_documents(es, harness, tmp_path: Path) -> None:
    # Not the documents' fault (unlike a per-item 400): they go to the spool, not to the dead letters.
    es.faults.whole_500 = 1
    dead = tmp_path / "dead.ndjson"
    spool_dir = tmp_path / "spool"
    h = harness(fast_options(es.url, dead_letter=str(dead), spool={"directory": str(spool_dir), "fsync": False}))
    h.emit(10)
    assert h.processor.force_flush(5_000)
    assert read_dead_letters(dead) == []
    snap = h.stats.snapshot()
    assert snap["failed"] == 0 and snap["dropped"] == 0 and snap["spooled"] == 10
    assert h.pipeline.replay()[1] == 0  # re-sent from the spool (by the sender thread or here)
    assert_exactly_once(es, 10)


def test_failure_store_used_counts_as_failed_but_stored(es, harness) -> None:
    es.faults.failure_store = lambda doc: doc.get("seq", 0) % 10 == 0
    h = harness(fast_options(es.url))
    h.emit(50)
    assert h.processor.force_flush(10_000)
    assert len(es.seen.failure_store) == 5
    snap = h.stats.snapshot()
    assert snap["sent"] == 45 and snap["failed"] == 5 and snap["failure_store"] == 5


def test_all_faults_at_once(es, harness, tmp_path: Path) -> None:
    es.faults.whole_429 = 3
    es.faults.whole_503 = 2
    es.faults.item_429_every = 4
    # seq 99: a mapping conflict (rescued); "order 150": refused in any shape (dead-lettered).
    es.faults.reject_400 = lambda doc: doc.get("seq") == 99 or doc.get("message") == "order 150"
    dead = tmp_path / "dead.ndjson"
    h = harness(fast_options(es.url, dead_letter=str(dead)))
    h.emit(N)
    assert h.processor.force_flush(10_000)
    assert len(es.seen.created) == len(set(es.seen.created))
    stored = sorted(seq_of(d) for d in es.seen.docs.values())
    dead_lettered = [seq_of(e["document"]) for e in read_dead_letters(dead)]
    assert dead_lettered == [150]
    assert sorted(stored + dead_lettered) == list(range(1, N + 1))


def test_a_retried_create_that_already_landed_answers_409_and_counts_once(es, harness) -> None:
    h = harness(fast_options(es.url))
    h.emit(10)
    assert h.processor.force_flush(5_000)
    docs = h.pipeline.encode([])  # nothing
    assert docs == []
    # Send the very same documents again (what a retry after a lost answer does).
    ids = list(es.seen.docs)
    from otel_bridge.exporters.elasticsearch.documents import Document

    again = [Document(i, es.seen.index_of[i], b'{"seq":0}', 0) for i in ids]
    assert h.pipeline.sender.send(again).left == []
    assert es.seen.conflicts == 10
    assert_exactly_once(es, 10)
    assert h.stats.count("sent") == 20  # 409 counts as delivered
    assert h.stats.count("failed") == 0
    assert h.stats.snapshot()["already_delivered"] == 10  # … and shows how many were already there


def test_the_client_sends_es9_compatibility_headers(es, harness) -> None:
    h = harness(fast_options(es.url))
    h.emit(1)
    assert h.processor.force_flush(5_000)
    headers = {k.lower(): v for k, v in es.seen.bulk_headers[0].items()}
    assert "compatible-with=9" in headers["content-type"]
    assert "compatible-with=9" in headers["accept"]


def test_a_forked_worker_gets_its_own_sender(es, harness) -> None:
    import os

    h = harness(fast_options(es.url))
    h.emit(5)
    assert h.processor.force_flush(5_000)
    pid = os.fork()
    if pid == 0:  # the child (a gunicorn worker): its own thread and connections
        code = 1
        try:
            h.emitted = 1000
            h.emit(10)
            code = 0 if h.processor.force_flush(5_000) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    h.emit(5)
    assert h.processor.force_flush(5_000)
    seqs = sorted(d["seq"] for d in es.seen.docs.values())
    assert seqs == [*range(1, 6), *range(6, 11), *range(1001, 1011)]


def test_identical_emissions_get_distinct_ids_that_survive_retries(es, harness) -> None:
    # Same content and same timestamps, emitted twice (in the same batch, and in separate batches): two
    # documents, neither a 409. A retried item keeps its id, so nothing lands twice.
    from opentelemetry._logs import LogRecord

    es.faults.item_429_every = 2
    h = harness(fast_options(es.url))
    same = {"timestamp": 1_700_000_000_000_000_001, "observed_timestamp": 1_700_000_000_000_000_002, "body": "same"}
    h.logger.emit(LogRecord(**same))
    h.logger.emit(LogRecord(**same))
    assert h.processor.force_flush(5_000)
    h.logger.emit(LogRecord(**same))
    assert h.processor.force_flush(5_000)
    assert len(es.seen.docs) == 3 and es.seen.conflicts == 0
    assert len(es.seen.created) == 3 and h.stats.count("retried") > 0
