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
