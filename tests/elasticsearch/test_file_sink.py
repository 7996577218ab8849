"""The ``file`` type: the same documents as _bulk NDJSON, loadable as they are, rotation by size."""

from __future__ import annotations

import json
from pathlib import Path

from otel_bridge.exporters.elasticsearch.bulk import make_client
from otel_bridge.exporters.elasticsearch.documents import to_document
from otel_bridge.exporters.elasticsearch.file_sink import SPEC, BulkFileExporter, FileOptions
from tests.elasticsearch.conftest import fast_options
from tests.elasticsearch.test_documents import CASES, make_record


def test_writes_action_and_source_pairs_identical_to_the_es_exporter(tmp_path: Path) -> None:
    path = tmp_path / "logs.ndjson"
    exporter = BulkFileExporter(FileOptions(path=path, index="logs-shop-default"))
    records = list(CASES.values())
    assert exporter.export(records).name == "SUCCESS"
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 * len(records)
    for record, action, source in zip(records, lines[0::2], lines[1::2], strict=True):
        doc = to_document(record, "logs-shop-default", "ecs", ("logs", "shop", "default"))
        assert json.loads(action) == {"create": {"_index": "logs-shop-default", "_id": doc.id}}
        assert source == doc.source
    assert exporter.stats.count("sent") == len(records)


def test_the_file_loads_into_elasticsearch_and_loading_twice_adds_nothing(tmp_path: Path, es) -> None:
    path = tmp_path / "logs.ndjson"
    exporter = BulkFileExporter(FileOptions(path=path, mapping="otel"))
    exporter.export([make_record(body=f"line {i}") for i in range(25)])
    client = make_client(fast_options(es.url))
    first = client.bulk(operations=path.read_bytes())  # what curl --data-binary @file …/_bulk does
    assert first["errors"] is False and len(es.seen.docs) == 25
    second = client.bulk(operations=path.read_bytes())
    assert {item["create"]["status"] for item in second["items"]} == {409}
    assert len(es.seen.created) == 25


def test_rotation_by_size(tmp_path: Path) -> None:
    path = tmp_path / "logs.ndjson"
    exporter = BulkFileExporter(FileOptions(path=path, max_bytes="4KB", backups=2))
    for i in range(30):
        exporter.export([make_record(body=f"line {i} " + "z" * 200)])
    assert path.stat().st_size <= 4000
    assert (tmp_path / "logs.ndjson.1").exists() and (tmp_path / "logs.ndjson.2").exists()
    assert not (tmp_path / "logs.ndjson.3").exists()


def test_spec_needs_no_elasticsearch_package() -> None:
    assert SPEC.type == "file" and SPEC.requires == () and SPEC.signals == frozenset({"logs"})
    assert "logs.ndjson" in SPEC.describe(FileOptions(path=Path("out/logs.ndjson")))


def test_identical_records_in_one_batch_are_both_kept(tmp_path: Path, es) -> None:
    # Two emissions with the same content and time (e.g. a record re-emitted by a log forwarder in the
    # same batch): like the elasticsearch type, the file gives them distinct _ids, so neither is a 409.
    path = tmp_path / "logs.ndjson"
    exporter = BulkFileExporter(FileOptions(path=path))
    record = make_record(body="same")
    assert exporter.export([record, record, make_record(body="other")]).name == "SUCCESS"
    client = make_client(fast_options(es.url))
    answer = client.bulk(operations=path.read_bytes())
    assert answer["errors"] is False and len(es.seen.docs) == 3


def test_a_failed_write_leaves_the_file_loadable(tmp_path: Path, es, monkeypatch) -> None:
    # The disk fills up mid-write: a torn action/source pair would make the whole file fail to load
    # (one bad line fails the _bulk request), and glue the next batch's first line to it.
    import errno

    from otel_bridge.exporters.elasticsearch import _append

    path = tmp_path / "logs.ndjson"
    exporter = BulkFileExporter(FileOptions(path=path))
    exporter.export([make_record(body=f"a{i}") for i in range(3)])
    real_write = _append.os.write

    def disk_full(fd: int, data: bytes) -> int:
        monkeypatch.setattr(_append.os, "write", real_write)
        real_write(fd, bytes(data)[: len(data) // 2 + 3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_append.os, "write", disk_full)
    assert exporter.export([make_record(body=f"b{i}") for i in range(3)]).name == "FAILURE"
    assert exporter.export([make_record(body=f"c{i}") for i in range(3)]).name == "SUCCESS"
    answer = make_client(fast_options(es.url)).bulk(operations=path.read_bytes())
    assert answer["errors"] is False
    assert sorted(d["message"] for d in es.seen.docs.values()) == ["a0", "a1", "a2", "c0", "c1", "c2"]
    assert exporter.stats.count("failed") == 3 and exporter.stats.count("sent") == 6
