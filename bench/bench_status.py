"""Status size and encode/decode time for a 50,000-node workflow, compressed vs plain Argo-style JSON.

Run: ``.venv/bin/python bench/bench_status.py``. Target: <= 12 bytes/node compressed; etcd's limit is 1.5 MiB.
"""

from __future__ import annotations

import asyncio
import json
import time

from workflows import DagBuilder, Executor, ExecutorConfig, NoopRunner, RunnerRegistry, decode_nodes
from workflows.model.status import compress_table, decompress_table, encode_nodes


async def finished_run(count: int) -> object:
    builder = DagBuilder("status-bench")
    for i in range(count):
        builder.add(f"step-{i}", kind="noop", depends=[f"step-{(i - 1) // 2}"] if i else None)
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(builder.build())
    await run.wait()
    await executor.close()
    return run


def main() -> None:
    count = 50_000
    run = asyncio.run(finished_run(count))
    t0 = time.perf_counter()
    table = run.node_table()  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    blob = compress_table(table)
    t2 = time.perf_counter()
    back = decompress_table(blob)
    t3 = time.perf_counter()
    records = back.records()
    t4 = time.perf_counter()
    plain = json.dumps([r.to_argo() for r in table.records()], separators=(",", ":"))
    t5 = time.perf_counter()
    full = run.status()  # type: ignore[attr-defined]
    t6 = time.perf_counter()
    assert len(records) == len(table) == count + 1
    assert decode_nodes(encode_nodes(table, budget_bytes=0))[-1] == records[-1]
    nodes = len(table)
    print(f"nodes: {nodes}")
    per_node = len(plain) / nodes
    print(f"plain Argo-style JSON: {len(plain):>10,} B  {per_node:6.1f} B/node  (built in {(t5 - t4) * 1e3:.0f} ms)")
    print(
        f"compressed (base64):   {len(blob):>10,} B  {len(blob) / nodes:6.1f} B/node  "
        f"ratio {len(plain) / len(blob):.0f}x  (etcd limit 1,572,864 B)"
    )
    print(
        f"table from run {(t1 - t0) * 1e3:.0f} ms, compress {(t2 - t1) * 1e3:.0f} ms, "
        f"decompress {(t3 - t2) * 1e3:.0f} ms, to records {(t4 - t3) * 1e3:.0f} ms"
    )
    print(f"whole status() per write: {(t6 - t5) * 1e3:.0f} ms, {len(json.dumps(full)):,} B")


if __name__ == "__main__":
    main()
