"""Transaction grouping across batches, orphan release by time and by memory, bounded stores."""

from __future__ import annotations

from otel_bridge.exporters.sentry.assemble import BreadcrumbStore, Deduper, TransactionAssembler
from otel_bridge.exporters.sentry.events import Breadcrumb
from tests.sentry import samples


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_children_from_three_batches_join_their_root() -> None:
    db, http, charge, root = samples.request_spans()
    grandchild = samples.span("nested", 0x3001, 0x1003, 32, 33)
    assembler = TransactionAssembler(timeout_s=60, max_spans=100)
    assert assembler.add([db]) == []
    assert assembler.add([http, grandchild]) == []
    assert assembler.add([charge]) == []
    assert assembler.pending == 4
    [group] = assembler.add([root])
    assert group.root is root and not group.orphan
    assert {s.name for s in group.children} == {"SELECT shop.orders", "POST", "charge", "nested"}
    assert assembler.pending == 0


def test_spans_of_another_local_root_stay_pending() -> None:
    *_, root = samples.request_spans()
    other_child = samples.span("other-child", 0x4002, 0x4001, 1, 2)  # parent is a different root
    assembler = TransactionAssembler(timeout_s=60, max_spans=100)
    assembler.add([other_child])
    [group] = assembler.add([root])
    assert group.children == []
    assert assembler.pending == 1


def test_orphans_are_released_after_the_timeout() -> None:
    clock = FakeClock()
    db, http, charge, _root = samples.request_spans()
    assembler = TransactionAssembler(timeout_s=30, max_spans=100, clock=clock)
    assembler.add([db, http, charge])
    clock.now += 29
    assert assembler.sweep() == []
    clock.now += 1
    groups = assembler.sweep()
    assert [g.orphan for g in groups] == [True, True, True]  # three siblings, their parent never came
    assert assembler.pending == 0 and assembler.released == 3


def test_memory_bound_releases_oldest_trace_first() -> None:
    assembler = TransactionAssembler(timeout_s=3600, max_spans=10)
    highest = 0
    for i in range(1000):
        child = samples.span(f"m{i}", 0x10000 + i, samples.ROOT_ID, i, i + 1)
        assembler.add([child])
        highest = max(highest, assembler.pending)
    assert highest <= 11
    assert assembler.released >= 989


def test_drain_releases_everything_as_trees() -> None:
    parent = samples.span("parent", 0x5001, 0x9999, 1, 10)
    child = samples.span("child", 0x5002, 0x5001, 2, 3)
    assembler = TransactionAssembler(timeout_s=3600, max_spans=10)
    assembler.add([child, parent])
    [group] = assembler.drain()
    assert group.root is parent and group.children == [child] and group.orphan


def test_breadcrumbs_are_bounded_per_trace_and_in_traces() -> None:
    store = BreadcrumbStore(per_trace=3, max_traces=2)
    for i in range(10):
        store.add("t1", Breadcrumb(timestamp=float(i), level="info", category="c", message=str(i)))
    assert [c.message for c in store.before("t1", 100.0)] == ["7", "8", "9"]
    assert [c.message for c in store.before("t1", 9.0)] == ["7", "8"]
    store.add("t2", Breadcrumb(timestamp=1.0, level="info", category="c", message="x"))
    store.add("t3", Breadcrumb(timestamp=1.0, level="info", category="c", message="y"))
    assert store.before("t1", 100.0) == []  # evicted: least recently used trace


def test_deduper_is_bounded() -> None:
    deduper = Deduper(max_keys=2)
    assert deduper.first_time(("a",)) and not deduper.first_time(("a",))
    deduper.first_time(("b",))
    deduper.first_time(("c",))
    assert deduper.first_time(("a",))  # forgotten


def test_late_child_of_a_sent_root_is_sent_at_once() -> None:
    *children, root = samples.request_spans()
    assembler = TransactionAssembler(timeout_s=3600, max_spans=100)
    [sent] = assembler.add([*children, root])
    assert len(sent.children) == 3
    late_grandchild = samples.span("late-inner", 0x6002, 0x6001, 50, 55)
    late = samples.span("background task", 0x6001, samples.ROOT_ID, 45, 60)  # ends after the root
    assert assembler.add([late_grandchild]) == []
    [late_group] = assembler.add([late])
    assert late_group.root is late and late_group.orphan
    assert late_group.children == [late_grandchild]
    assert assembler.pending == 0 and assembler.released == 0


def test_child_of_an_unsampled_local_parent_is_a_root_at_once() -> None:
    """A sampler that drops a parent but keeps its child (not parent-based): the parent is never
    exported, so the child must not wait for it until the orphan timeout."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class DropHealth(Sampler):
        def should_sample(self, parent_context: object, trace_id: int, name: str, *args: object, **kw: object):  # type: ignore[no-untyped-def]
            return SamplingResult(Decision.DROP if name == "health" else Decision.RECORD_AND_SAMPLE)

        def get_description(self) -> str:
            return "drop-health"

    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=DropHealth())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("health"), tracer.start_as_current_span("db check"):
        pass
    provider.shutdown()
    [child] = memory.get_finished_spans()
    assembler = TransactionAssembler(timeout_s=3600, max_spans=100)
    [group] = assembler.add([child])
    assert group.root is child and not group.orphan and group.children == []
    assert assembler.pending == 0


def test_breadcrumbs_are_bounded_in_total_under_many_traces() -> None:
    """Defaults (100 per trace, 1 000 traces) would hold 100 000 breadcrumbs; a total bound keeps
    memory small however many traces log, and the newest trace keeps its breadcrumbs."""
    store = BreadcrumbStore(per_trace=100)
    for trace in range(300):
        for i in range(100):
            store.add(f"{trace:032x}", Breadcrumb(timestamp=float(i), level="info", category="c", message="m"))
    assert store.total <= BreadcrumbStore.MAX_TOTAL
    assert len(store.before(f"{299:032x}", 1000.0)) == 100
    assert store.before(f"{0:032x}", 1000.0) == []


def test_span_event_breadcrumb_data_is_small() -> None:
    from otel_bridge.exporters.sentry.convert import Settings
    from otel_bridge.exporters.sentry.events import (
        MAX_BREADCRUMB_DATA_KEYS,
        MAX_BREADCRUMB_VALUE,
        span_event_breadcrumb,
    )

    attrs = {f"k{i}": "v" * 8000 for i in range(128)}
    span = samples.span("s", 0x1003, samples.ROOT_ID, 1, 2)
    crumb = span_event_breadcrumb(span, samples.Event("big", attrs, timestamp=samples.T0), Settings())
    assert len(crumb.data) == MAX_BREADCRUMB_DATA_KEYS
    assert all(len(v) <= MAX_BREADCRUMB_VALUE for v in crumb.data.values())


def test_deduper_tells_copies_of_one_exception_from_repeats() -> None:
    from otel_bridge.exporters.sentry.assemble import Sighting

    key = ("trace", "ValueError", "boom", "/srv/a.py:3")
    deduper = Deduper()
    # Recorded by the app, re-raised: the SDK records it again as it escapes the span, then the
    # parent span, and it is logged two levels up: one exception.
    assert deduper.first_time(key, Sighting("event", 3, (2, 1)))
    assert not deduper.first_time(key, Sighting("escaped", 3, (2, 1)))
    assert not deduper.first_time(key, Sighting("escaped", 2, (1,)))
    assert not deduper.first_time(key, Sighting("log", 1))
    # The same line failing again in a sibling span (logged two levels up): another one.
    assert deduper.first_time(key, Sighting("escaped", 4, (2, 1)))
    assert not deduper.first_time(key, Sighting("log", 1))
    # Logged once more in span 1: a third one, whose copy from span 5 comes later.
    assert deduper.first_time(key, Sighting("log", 1))
    assert not deduper.first_time(key, Sighting("escaped", 5, (1,)))


def test_fit_drops_oldest_breadcrumbs_then_latest_spans() -> None:
    from otel_bridge.exporters.sentry.size import fit, payload_size

    payload = {
        "spans": [{"span_id": f"{i:016x}", "description": "d" * 1000, "data": {"k": "v" * 1000}} for i in range(100)],
        "breadcrumbs": {"values": [{"timestamp": float(i), "message": "m" * 1000} for i in range(100)]},
    }
    dropped = fit(payload, limit=20_000)
    assert payload_size(payload) <= 20_000
    assert payload["breadcrumbs"]["values"] == []
    assert dropped == 100 - len(payload["spans"]) and 0 < len(payload["spans"]) < 100
    assert payload["spans"][0]["span_id"] == f"{0:016x}"  # the earliest kept
    small = {"spans": [{"description": "x", "data": {}}]}
    assert fit(small) == 0 and small == {"spans": [{"description": "x", "data": {}}]}


def test_deduper_memory_is_bounded_in_total() -> None:
    from otel_bridge.exporters.sentry.assemble import Sighting

    deduper = Deduper()
    for trace in range(4096):
        for attempt in range(40):  # a retry storm in every trace
            deduper.first_time((f"{trace}", "E", "m", "a.py:1"), Sighting("log", attempt))
    assert deduper.total <= Deduper.MAX_TOTAL
    assert not deduper.first_time(("4095", "E", "m", "a.py:1"), Sighting("escaped", 39, ()))  # recent kept
