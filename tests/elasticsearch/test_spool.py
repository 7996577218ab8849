"""The on-disk spool: round trip, torn writes, the size bound, abandoned segments, partial replay."""

from __future__ import annotations

import os
from pathlib import Path

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.documents import Document
from otel_bridge.exporters.elasticsearch.spool import Spool, decode_line, encode_line


def docs(n: int, start: int = 0, pad: int = 0) -> list[Document]:
    return [
        Document(f"id{i}", "logs-a-b", b'{"message":"m%d","pad":"%s"}' % (i, b"x" * pad), 1_000 + i)
        for i in range(start, start + n)
    ]


def collect(spool: Spool) -> list[str]:
    sent: list[str] = []

    def deliver(batch: list[Document]) -> list[Document]:
        sent.extend(d.id for d in batch)
        return []

    spool.replay(deliver, batch_records=7)
    return sent


def test_round_trip_keeps_ids_indices_and_sources(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20, fsync=True)
    original = docs(20)
    assert spool.append(original) == 20
    spool.seal()
    (segment,) = spool.sealed_segments()
    assert spool.read(segment) == original
    assert spool.status().records == 20
    assert collect(spool) == [d.id for d in original]
    assert spool.status().records == 0 and not list(tmp_path.glob("seg-*"))


def test_a_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    stats = ExporterStats("es", "elasticsearch")
    spool = Spool(tmp_path, 1 << 20, stats)
    spool.append(docs(3))
    spool.seal()
    (segment,) = spool.sealed_segments()
    with open(segment, "ab") as fh:  # a crash in the middle of the next write
        fh.write(encode_line(docs(1, 3)[0])[:-7])
    assert [d.id for d in spool.read(segment)] == ["id0", "id1", "id2"]
    assert stats.dropped() == {"spool_corrupt": 1}
    flipped = bytearray(encode_line(docs(1)[0]))
    flipped[20] ^= 1
    assert decode_line(bytes(flipped)) is None


def test_the_size_bound_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    stats = ExporterStats("es", "elasticsearch")
    spool = Spool(tmp_path, max_bytes=20_000, stats=stats, fsync=False, segment_bytes=4_000)
    for batch in range(20):
        spool.append(docs(10, start=batch * 10, pad=100))
    status = spool.status()
    assert status.bytes <= 20_000
    dropped = stats.dropped()["spool_full"]
    assert dropped > 0
    assert status.records + dropped == 200
    remaining = collect(spool)
    assert remaining == [f"id{i}" for i in range(200 - len(remaining), 200)]  # the newest survive, in order


def test_a_batch_bigger_than_the_spool_keeps_its_newest_part(tmp_path: Path) -> None:
    stats = ExporterStats("es", "elasticsearch")
    spool = Spool(tmp_path, max_bytes=1_000, stats=stats, fsync=False)
    written = spool.append(docs(50))
    assert 0 < written < 50
    assert stats.dropped()["spool_full"] == 50 - written
    assert collect(spool) == [f"id{i}" for i in range(50 - written, 50)]


def test_open_segments_of_dead_processes_are_picked_up(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20, fsync=False)
    spool.append(docs(5))
    own_open = next(tmp_path.glob("*.open"))
    # Pretend another process (now gone) wrote it; pid 2**22 + 1 is above Linux's pid_max default.
    orphan = tmp_path / own_open.name.replace(f"-{os.getpid()}.open", f"-{2**22 + 1}.open")
    own_open.rename(orphan)
    other = Spool(tmp_path, 1 << 20, fsync=False)
    assert collect(other) == [f"id{i}" for i in range(5)]


def test_open_segments_of_live_processes_are_left_alone(tmp_path: Path) -> None:
    writer = Spool(tmp_path, 1 << 20, fsync=False)
    writer.append(docs(5))
    parent_pid = os.getppid()
    seg = next(tmp_path.glob("*.open"))
    seg.rename(tmp_path / seg.name.replace(f"-{os.getpid()}.open", f"-{parent_pid}.open"))
    reader = Spool(tmp_path, 1 << 20, fsync=False)
    assert reader.sealed_segments() == []
    assert reader.status().records == 5


def test_partial_replay_rewrites_only_what_is_left(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20, fsync=False)
    spool.append(docs(20))
    calls = 0

    def flaky(batch: list[Document]) -> list[Document]:
        nonlocal calls
        calls += 1
        return [] if calls == 1 else batch  # the backend goes away after the first batch

    resolved, left = spool.replay(flaky, batch_records=8)
    assert (resolved, left) == (8, 12)
    assert collect(spool) == [f"id{i}" for i in range(8, 20)]


def test_only_one_process_drains_at_a_time(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20, fsync=False)
    first.append(docs(3))
    second = Spool(tmp_path, 1 << 20, fsync=False)
    with first._drain_lock() as got:
        assert got
        assert second.replay(lambda batch: []) == (0, 3)


def test_a_failed_append_leaves_no_torn_line_behind(tmp_path: Path, monkeypatch) -> None:
    # The disk fills up in the middle of a write: part of the batch reached the file. The records
    # appended after it (once space is back) must not be glued to that fragment and lost.
    import errno

    from otel_bridge.exporters.elasticsearch import _append

    stats = ExporterStats("es", "elasticsearch")
    spool = Spool(tmp_path, 1 << 20, stats, fsync=False)
    spool.append(docs(3))
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        monkeypatch.setattr(_append.os, "write", real_write)
        real_write(fd, bytes(data)[: len(data) // 2 + 5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_append.os, "write", disk_full)
    assert spool.append(docs(3, start=3)) == 0
    assert stats.dropped() == {"spool_error": 3}
    assert spool.append(docs(3, start=6)) == 3
    assert collect(spool) == ["id0", "id1", "id2", "id6", "id7", "id8"]
    assert stats.dropped() == {"spool_error": 3}  # nothing corrupt, nothing counted twice


def test_one_large_append_is_cut_into_bounded_segments(tmp_path: Path) -> None:
    # Shutdown spools the whole queue at once; replay reads one segment at a time, so segments must
    # stay near segment_bytes for replay memory to stay bounded.
    spool = Spool(tmp_path, 1 << 24, fsync=False, segment_bytes=4_000)
    assert spool.append(docs(30, start=-30, pad=100)) == 30  # a segment already ~3.5 kB full
    spool.append(docs(200, pad=50))  # ~25 kB in one call
    spool.seal()
    sizes = [seg.stat().st_size for seg in spool.sealed_segments()]
    assert len(sizes) > 1 and max(sizes) <= 4_000
    assert collect(spool) == [f"id{i}" for i in range(-30, 200)]


def test_a_drain_interrupted_halfway_neither_resends_nor_loses(tmp_path: Path) -> None:
    # Ctrl-C on `otel-bridge spool drain` (or any error) in the middle of a segment: the batches already
    # delivered are not sent again by the next drain, and the rest is kept.
    spool = Spool(tmp_path, 1 << 20, fsync=False)
    spool.append(docs(30))
    sent: list[str] = []

    def interrupted(batch: list[Document]) -> list[Document]:
        if len(sent) >= 14:
            raise KeyboardInterrupt
        sent.extend(d.id for d in batch)
        return []

    try:
        spool.replay(interrupted, batch_records=7)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interruption must propagate")
    assert sent == [f"id{i}" for i in range(14)]
    assert collect(spool) == [f"id{i}" for i in range(14, 30)]


def test_a_segment_removed_during_replay_is_skipped(tmp_path: Path) -> None:
    # Another process's size bound deleted the oldest segment between listing and reading.
    spool = Spool(tmp_path, 1 << 20, fsync=False)
    spool.append(docs(2))
    spool.seal()
    spool.append(docs(2, start=2))
    spool.seal()
    first = spool.sealed_segments()[0]
    real_read = spool.read

    def read(path: Path) -> list[Document]:
        if path == first:
            path.unlink()
        return real_read(path)

    spool.read = read  # type: ignore[method-assign]
    assert collect(spool) == ["id2", "id3"]


def test_a_failure_after_some_segments_counts_only_what_is_not_on_disk(tmp_path: Path, monkeypatch) -> None:
    import errno

    from otel_bridge.exporters.elasticsearch import _append

    stats = ExporterStats("es", "elasticsearch")
    spool = Spool(tmp_path, 1 << 20, stats, fsync=False, segment_bytes=1_000)
    real_write, calls = os.write, []

    def full_from_the_second_segment(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(_append.os, "write", full_from_the_second_segment)
    written = spool.append(docs(40))
    monkeypatch.setattr(_append.os, "write", real_write)
    assert 0 < written < 40
    assert stats.count("spooled") == written and stats.dropped() == {"spool_error": 40 - written}
    assert collect(spool) == [f"id{i}" for i in range(written)]
