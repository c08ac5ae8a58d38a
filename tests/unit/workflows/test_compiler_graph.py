"""The compiler's graph pass: cycle detection against graphlib, and plans that do not depend on collector state."""

from __future__ import annotations

import gc
import graphlib
import itertools
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import DagBuilder
from workflows.model import collector
from workflows.model.compiler import _find_cycle
from workflows.model.depends import from_dependencies
from workflows.model.spec import DagTask


def _tasks(edges: dict[int, set[int]], count: int) -> list[DagTask]:
    return [
        DagTask(
            name=f"t{i}",
            path=f"tasks[{i}]",
            template="x",
            template_ref=None,
            depends=from_dependencies([f"t{d}" for d in sorted(edges.get(i, ()))]) if edges.get(i) else None,
        )
        for i in range(count)
    ]


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=12),
    raw=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
)
def test_find_cycle_agrees_with_graphlib(count: int, raw: list[tuple[int, int]]) -> None:
    edges: dict[int, set[int]] = {}
    for a, b in raw:
        if a < count and b < count:
            edges.setdefault(a, set()).add(b)  # a depends on b
    tasks = _tasks(edges, count)
    try:
        graphlib.TopologicalSorter({i: edges.get(i, set()) for i in range(count)}).prepare()
        acyclic = True
    except graphlib.CycleError:
        acyclic = False
    cycle = _find_cycle(tasks)
    assert (cycle is None) is acyclic
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        for later, earlier in itertools.pairwise(cycle):
            # reversed walk: each name is a dependency of the next one
            assert int(later[1:]) in edges.get(int(earlier[1:]), set())


def test_compile_leaves_the_collector_as_it_found_it() -> None:
    builder = DagBuilder("gc")
    builder.add("a", kind="noop")
    builder.add("b", kind="noop", depends=["a"])
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    builder.build()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.disable()
    try:
        plan = builder.build()
        assert not gc.isenabled()  # an application's choice is left alone
    finally:
        gc.enable()
    assert [node.name for node in plan.nodes] == ["gc", "gc.a", "gc.b"]


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_during_a_build_the_collector_runs_but_leaves_the_old_heap_alone() -> None:
    old = _Cycle()
    old_ref = weakref.ref(old)
    with collector.young_only():
        assert gc.isenabled()  # never switched off: other threads' garbage is still collected
        assert gc.get_freeze_count() > 0
        young = weakref.ref(_Cycle())
        del old
        gc.collect()
        assert young() is None  # new cyclic garbage: reclaimed during the build
        assert old_ref() is not None  # the old heap is not examined until the build ends
    gc.collect()
    assert old_ref() is None
    assert gc.get_freeze_count() == 0


def test_during_a_build_survivors_of_young_collections_are_set_aside() -> None:
    with collector.young_only():
        before = gc.get_freeze_count()
        survivors = [_Cycle() for _ in range(10)]
        gc.collect(1)  # what the build's allocations trigger by themselves
        assert gc.get_freeze_count() >= before + len(survivors)  # not examined again until the build ends
    assert gc.get_freeze_count() == 0
    assert _set_aside_hook_count() == 0


def _set_aside_hook_count() -> int:
    return sum(1 for hook in gc.callbacks if getattr(hook, "__module__", "") == collector.__name__)


def test_overlapping_builds_share_one_freeze_undone_by_the_last() -> None:
    first, second = collector.young_only(), collector.young_only()
    first.__enter__()
    frozen = gc.get_freeze_count()
    second.__enter__()  # (another thread's build, in real life)
    assert gc.get_freeze_count() == frozen  # not frozen again: the first build's objects stay examinable
    first.__exit__(None, None, None)
    assert gc.get_freeze_count() > 0  # the second build is still running
    second.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0


def test_an_application_freeze_is_left_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector.young_only():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
