"""Engine overhead per node for no-op steps, against a naive baseline measured in the same run.

Shapes: a layered DAG (width 50, each node depends on 2 nodes of the previous layer) of 1k / 10k / 50k nodes.
Engine: DagBuilder plan + Executor with the inline NoopRunner. Baseline: graphlib.TopologicalSorter driving a
ThreadPoolExecutor (the "obvious" Python implementation). Also: 1,000 concurrent runs of 20 nodes (total time and
first-dispatch latency). Run: ``.venv/bin/python bench/bench_engine.py``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import graphlib
import random
import time

from workflows import DagBuilder, Executor, ExecutorConfig, NodeResult, RunnerRegistry
from workflows.runners import NoopRunner

WIDTH = 50


def layered_edges(count: int, seed: int = 7) -> list[list[int]]:
    rng = random.Random(seed)
    deps: list[list[int]] = []
    for index in range(count):
        layer = index // WIDTH
        if layer == 0:
            deps.append([])
            continue
        previous = range((layer - 1) * WIDTH, layer * WIDTH)
        deps.append(sorted(set(rng.sample(previous, 2))))
    return deps


def build_plan(deps: list[list[int]], name: str = "bench") -> object:
    dag = DagBuilder(name)
    for index, parents in enumerate(deps):
        dag.add(f"n{index}", kind="noop", depends=[f"n{p}" for p in parents] or None)
    return dag.build()


async def run_engine(plan: object) -> float:
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    start = time.perf_counter()
    run = executor.submit(plan)  # type: ignore[arg-type]
    result = await run.wait()
    elapsed = time.perf_counter() - start
    assert result.phase.value == "Succeeded", result
    await executor.close()
    return elapsed


def run_baseline(deps: list[list[int]]) -> float:
    start = time.perf_counter()
    sorter = graphlib.TopologicalSorter(dict(enumerate(deps)))
    sorter.prepare()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        pending: dict[concurrent.futures.Future[None], int] = {}
        while sorter.is_active():
            for node in sorter.get_ready():
                pending[pool.submit(lambda: None)] = node
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                sorter.done(pending.pop(future))
    return time.perf_counter() - start


class _FirstDispatch:
    uses_slot = True

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    def run_inline(self, node: object) -> NodeResult:
        self.first.setdefault(node.run_id, time.perf_counter())  # type: ignore[attr-defined]
        return NodeResult.succeeded()


async def concurrent_runs(count: int = 1000, size: int = 20) -> tuple[float, float, float]:
    recorder = _FirstDispatch()
    executor = Executor(registry=RunnerRegistry({"noop": recorder}), config=ExecutorConfig(status_interval=0))
    deps = layered_edges(size)
    plans = [build_plan(deps, name=f"run-{i}") for i in range(count)]
    start = time.perf_counter()
    submitted = {}
    runs = []
    for index, plan in enumerate(plans):
        run = executor.submit(plan, run_id=f"r{index}")  # type: ignore[arg-type]
        submitted[run.run_id] = time.perf_counter()
        runs.append(run)
    await asyncio.gather(*(run.wait() for run in runs))
    total = time.perf_counter() - start
    latencies = sorted(recorder.first[r] - submitted[r] for r in submitted)
    await executor.close()
    return total, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]


def main() -> None:
    print("engine overhead per no-op node (layered DAG, 2 deps/node)")
    print(
        f"{'nodes':>8} {'engine µs/node':>15} {'baseline µs/node':>17} {'baseline/engine':>16} {'compile µs/node':>16}"
    )
    per_node: dict[int, float] = {}
    for count in (1_000, 10_000, 50_000):
        deps = layered_edges(count)
        t0 = time.perf_counter()
        plan = build_plan(deps)
        compile_time = time.perf_counter() - t0
        engine = min(asyncio.run(run_engine(plan)) for _ in range(3))
        baseline = min(run_baseline(deps) for _ in range(2 if count > 10_000 else 3))
        per_node[count] = engine
        print(
            f"{count:>8} {engine / count * 1e6:>15.2f} {baseline / count * 1e6:>17.2f} "
            f"{baseline / engine:>16.1f} {compile_time / count * 1e6:>16.2f}"
        )
    print(f"t(50k)/t(10k) = {per_node[50_000] / per_node[10_000]:.2f}  (linear would be 5.0; target <= 6)")
    total, p50, p99 = asyncio.run(concurrent_runs())
    print(
        f"1000 concurrent runs x 20 nodes: total {total * 1e3:.0f} ms, first-dispatch latency p50 {p50 * 1e3:.1f} ms"
        f" p99 {p99 * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
