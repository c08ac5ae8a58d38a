"""What keeping the garbage collector off the old heap buys a build, and what it leaves to the rest of the process.

On a controller-sized heap (a few 50,000-node plans kept alive, ~2M tracked objects), a 50,000-node manifest compile
and a 50,000-node status encoding are timed under three collector strategies, alternately, in the same run:

- ``untouched``: the collector as CPython runs it;
- ``disable``: the previous engine's process-wide pause (``gc.disable()`` for the build);
- ``young_only``: ``workflows.model.collector.young_only`` (``gc.freeze()`` of the old heap for the build).

Then the scoping itself: while a build runs on a worker thread (as status encodings do), another thread keeps making
cyclic garbage, as kopf's loop does; reported is how much of it the collector reclaimed before the build ended.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_collector.py [--keep 3] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from bench.bench_engine import build_plan, layered_edges, manifest_of
from workflows import Executor, ExecutorConfig, NoopRunner, RunnerRegistry, compile_workflow, parse_workflow
from workflows.model import collector
from workflows.model.status import status_from_snapshot

NODES = 50_000


@contextmanager
def untouched() -> Iterator[None]:
    yield


@contextmanager
def disable() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


REAL = collector.young_only
STRATEGIES: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "untouched": untouched,
    "disable": disable,
    "young_only": REAL,
}


def use(strategy: Callable[[], AbstractContextManager[None]]) -> None:
    collector.young_only = strategy  # type: ignore[assignment]  # the compiler and status look it up per call


async def finished_snapshot() -> Any:
    builder_plan = build_plan(layered_edges(NODES), name="status")
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(builder_plan)  # type: ignore[arg-type]
    await run.wait()
    await executor.close()
    return run.scheduler.snapshot()


class Garbage:
    """Cyclic garbage, counted when the collector frees it."""

    freed = 0

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Garbage.freed += 1


def scoping(build: Callable[[], object]) -> tuple[int, int]:
    """Another thread makes cyclic garbage while ``build`` runs on a worker thread (as a status encoding does while
    kopf's loop runs): (cycles made during the build, the most of them waiting unreclaimed at any moment).
    """
    made = 0
    backlog = 0
    done = threading.Event()
    gc.collect()
    Garbage.freed = 0
    worker = threading.Thread(target=lambda: (build(), done.set()))
    worker.start()
    while not done.is_set():
        for _ in range(1000):
            Garbage()
        made += 1000
        backlog = max(backlog, made - Garbage.freed)
        time.sleep(0.001)  # let the build thread run
    worker.join()
    gc.collect()
    return made, backlog


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=int, default=3, help="50k-node plans kept alive (the controller's heap)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    heap = [build_plan(layered_edges(NODES), name=f"kept-{i}") for i in range(args.keep)]
    snap = asyncio.run(finished_snapshot())
    manifest = manifest_of(layered_edges(NODES))
    gc.collect()
    print(f"heap: {len(gc.get_objects()):,} tracked objects ({len(heap)} kept plans); build: {NODES:,} nodes")

    def compile_once() -> object:
        return compile_workflow(parse_workflow(manifest))

    def encode_once() -> object:
        return status_from_snapshot(snap, budget_bytes=256 * 1024)

    timings: dict[str, dict[str, list[float]]] = {name: {"compile": [], "encode": []} for name in STRATEGIES}
    for _ in range(args.reps):
        for name, strategy in STRATEGIES.items():
            use(strategy)
            for what, build in (("compile", compile_once), ("encode", encode_once)):
                gc.collect()
                start = time.perf_counter()
                result = build()
                del result
                gc.collect(1)  # the young collection it leaves behind, paid soon after anyway
                timings[name][what].append(time.perf_counter() - start)
    header = ("strategy", "compile ms (min/med)", "vs untouched", "encode ms (min/med)", "vs untouched")
    print(" ".join(f"{text:>{width}}" for text, width in zip(header, (11, 22, 13, 21, 13), strict=True)))
    base = {what: min(timings["untouched"][what]) for what in ("compile", "encode")}
    for name, measured in timings.items():
        cells = []
        for what in ("compile", "encode"):
            values = measured[what]
            cells.append(f"{min(values) * 1e3:>9.0f} / {statistics.median(values) * 1e3:<8.0f}")
            cells.append(f"{min(values) / base[what]:>12.2f}x")
        print(f"{name:>11} {cells[0]:>22} {cells[1]:>13} {cells[2]:>21} {cells[3]:>13}")
    print("another thread's cyclic garbage while a compile runs on a worker thread:")
    for name, strategy in STRATEGIES.items():
        use(strategy)
        made, backlog = scoping(compile_once)
        print(f"{name:>11}: {made:,} cycles made during the build, at most {backlog:,} of them not yet reclaimed")
    use(REAL)


if __name__ == "__main__":
    main()
