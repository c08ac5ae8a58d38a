"""Engine overhead per node for no-op steps, against a naive baseline measured in the same run.

Shapes: a layered DAG (width 50, each node depends on 2 nodes of the previous layer) of 1k / 10k / 50k nodes.
Engine: DagBuilder plan + Executor with the inline NoopRunner. Baseline: graphlib.TopologicalSorter driving a
ThreadPoolExecutor (the "obvious" Python implementation). Also: compile cost (DagBuilder, and the same DAG as a
manifest through parse_workflow + compile_workflow), 1,000 concurrent runs of 20 nodes (total time and first-dispatch
latency from just before ``submit``), and the 50k-node status write: event-loop time (the snapshot), total encode time
and the longest loop stall while a write is encoded off the loop.

Run: ``.venv/bin/python bench/bench_engine.py``. To compare with another checkout in the same session, run this
script with ``PYTHONPATH=<that checkout>`` (it falls back to ``Run.status()`` where ``snapshot_status`` is missing).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import graphlib
import random
import statistics
import time
from typing import Any

from workflows import DagBuilder, Executor, ExecutorConfig, NodeResult, RunnerRegistry, compile_workflow, parse_workflow
from workflows.runtime.runners import NoopRunner

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


def manifest_of(deps: list[list[int]]) -> dict[str, Any]:
    """The same DAG as an Argo-style manifest (one shared leaf template, as people write them)."""
    tasks: list[dict[str, Any]] = []
    for index, parents in enumerate(deps):
        task: dict[str, Any] = {"name": f"n{index}", "template": "noop"}
        if parents:
            task["dependencies"] = [f"n{p}" for p in parents]
        tasks.append(task)
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "bench"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "noop", "container": {"image": "busybox"}},
            ],
        },
    }


def timed_compile(build: Any) -> float:
    """Wall time of ``build()`` plus the young-generation collection it leaves behind (paid soon after anyway)."""
    gc.collect()
    start = time.perf_counter()
    plan = build()
    gc.collect(1)
    elapsed = time.perf_counter() - start
    del plan
    return elapsed


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
        before = time.perf_counter()  # a run may start its first steps inside submit()
        run = executor.submit(plan, run_id=f"r{index}")  # type: ignore[arg-type]
        submitted[run.run_id] = before
        runs.append(run)
    await asyncio.gather(*(run.wait() for run in runs))
    total = time.perf_counter() - start
    latencies = sorted(recorder.first[r] - submitted[r] for r in submitted)
    await executor.close()
    return total, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]


async def status_costs(plan: object) -> tuple[float, float, float, float]:
    """(sync ``status()``, on-loop snapshot, off-loop write total, longest loop stall during it), seconds."""
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(plan)  # type: ignore[arg-type]
    await run.wait()
    start = time.perf_counter()
    run.status()
    sync = time.perf_counter() - start
    scheduler = getattr(run, "scheduler", None)  # older engines: snapshot_run(run) in the status module
    snapshot = scheduler.snapshot if scheduler is not None else _old_snapshot(run)
    on_loop = sync
    if snapshot is not None:
        start = time.perf_counter()
        snapshot()
        on_loop = time.perf_counter() - start
    stalls: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:  # how long the loop goes without serving another coroutine
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last - 0.001)
            last = now

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.01)
    stalls.clear()
    write = getattr(run, "snapshot_status", None)
    start = time.perf_counter()
    if write is not None:
        await write()
    else:
        run.status()
        await asyncio.sleep(0)
    total = time.perf_counter() - start
    stop.set()
    await tick
    await executor.close()
    return sync, on_loop, total, max(stalls, default=total)


def _old_snapshot(run: object) -> Any:
    for module in ("workflows.model.status", "workflows.status"):
        try:
            snapshot_run = getattr(__import__(module, fromlist=["x"]), "snapshot_run", None)
        except ImportError:
            continue
        if snapshot_run is not None:
            return lambda: snapshot_run(run)
    return None


def main() -> None:
    print("engine overhead per no-op node (layered DAG, 2 deps/node); compile = DagBuilder, manifest = parse+compile")
    print(
        f"{'nodes':>8} {'engine µs/node':>15} {'baseline µs/node':>17} {'baseline/engine':>16} {'compile µs/node':>16}"
        f" {'manifest µs/node':>17}"
    )
    per_node: dict[int, float] = {}
    plan: object = None
    for count in (1_000, 10_000, 50_000):
        deps = layered_edges(count)
        compile_time = min(timed_compile(lambda deps=deps: build_plan(deps)) for _ in range(2))
        manifest = manifest_of(deps)
        manifest_time = min(
            timed_compile(lambda manifest=manifest: compile_workflow(parse_workflow(manifest))) for _ in range(2)
        )
        plan = build_plan(deps)
        engine = min(asyncio.run(run_engine(plan)) for _ in range(3))
        baseline = min(run_baseline(deps) for _ in range(2 if count > 10_000 else 3))
        per_node[count] = engine
        print(
            f"{count:>8} {engine / count * 1e6:>15.2f} {baseline / count * 1e6:>17.2f} "
            f"{baseline / engine:>16.1f} {compile_time / count * 1e6:>16.2f} {manifest_time / count * 1e6:>17.2f}"
        )
    print(f"t(50k)/t(10k) = {per_node[50_000] / per_node[10_000]:.2f}  (linear would be 5.0; target <= 6)")
    results = [asyncio.run(concurrent_runs()) for _ in range(3)]
    total, p50, p99 = (statistics.median(values) for values in zip(*results, strict=True))
    print(
        f"1000 concurrent runs x 20 nodes (median of 3): total {total * 1e3:.0f} ms, first-dispatch latency"
        f" p50 {p50 * 1e3:.2f} ms p99 {p99 * 1e3:.2f} ms"
    )
    sync, on_loop, off_total, stall = asyncio.run(status_costs(plan))
    print(
        f"status at 50,001 nodes: Run.status() {sync * 1e3:.0f} ms; per write on the loop {on_loop * 1e3:.1f} ms,"
        f" write total {off_total * 1e3:.0f} ms, longest loop stall during it {stall * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
