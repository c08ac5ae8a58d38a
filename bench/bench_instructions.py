"""Instructions per node of the engine's hot paths, for two checkouts side by side (``valgrind --tool=callgrind``).

Wall-clock ratios on two shared cores move by 2-3x from run to run; instruction counts do not (they are the same
within 0.1% between runs), so a 10% budget can be checked. Each workload runs once and three times in a fresh
interpreter under callgrind; the difference, divided by the two extra runs and the node count, is the per-node cost
with start-up and imports taken out.

    python bench/bench_instructions.py BASELINE_CHECKOUT [CURRENT_CHECKOUT] [--nodes 10000]

Needs ``valgrind`` (Debian package). A full comparison takes about an hour on two cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

_SETUP = """
import asyncio, importlib.util, os, sys
spec = importlib.util.spec_from_file_location("be", os.path.join(os.environ["PYTHONPATH"], "bench/bench_engine.py"))
be = importlib.util.module_from_spec(spec); spec.loader.exec_module(be)
from workflows import DagBuilder, Executor, ExecutorConfig, NoopRunner, RunnerRegistry, compile_workflow, parse_workflow
try:
    from workflows.model.status import compress_table, decompress_table
except ImportError:  # checkouts from before the model/runtime split
    from workflows.status import compress_table, decompress_table
N, REPS = int(sys.argv[1]), int(sys.argv[2])
"""

_ENGINE = """
async def run_engine(plan):
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(plan)
    await run.wait()
    await executor.close()
plan = be.build_plan(be.layered_edges(N))
for _ in range(REPS):
    asyncio.run(run_engine(plan))
"""

_COMPILE = {
    "dagbuilder": "for _ in range(REPS):\n    be.build_plan(be.layered_edges(N))\n",
    "manifest": (
        "manifest = be.manifest_of(be.layered_edges(N))\n"
        "for _ in range(REPS):\n    compile_workflow(parse_workflow(manifest))\n"
    ),
}

_STATUS = """
async def finished_run(count):
    builder = DagBuilder("status-bench")
    for i in range(count):
        builder.add(f"step-{i}", kind="noop", depends=[f"step-{(i - 1) // 2}"] if i else None)
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(builder.build())
    await run.wait()
    await executor.close()
    return run
run = asyncio.run(finished_run(N))
table = run.node_table()
blob = compress_table(table)
for _ in range(REPS):
    WHAT
"""

WORKLOADS = {
    "engine run": _ENGINE,
    "compile (DagBuilder)": _COMPILE["dagbuilder"],
    "compile (manifest)": _COMPILE["manifest"],
    "status write": _STATUS.replace("WHAT", "run.status()"),
    "status compress": _STATUS.replace("WHAT", "compress_table(table)"),
    "status decompress": _STATUS.replace("WHAT", "decompress_table(blob)"),
}
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(checkout: Path, code: str, nodes: int, reps: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    env = os.environ | {"PYTHONPATH": str(checkout), "PYTHONHASHSEED": "0"}
    result = subprocess.run(  # noqa: S603 -- valgrind over our own interpreter and benchmark code
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", _SETUP + code,
         str(nodes), str(reps)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = _COLLECTED.search(result.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def per_node(checkout: Path, code: str, nodes: int) -> float:
    return (instructions(checkout, code, nodes, 3) - instructions(checkout, code, nodes, 1)) / 2 / nodes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("current", type=Path, nargs="?", default=Path(__file__).resolve().parents[1])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    args = parser.parse_args()
    print(f"{'workload':<22} {'baseline instr/node':>20} {'current instr/node':>19} {'current/baseline':>17}")
    for name, code in WORKLOADS.items():
        if args.only and name not in args.only:
            continue
        before, after = per_node(args.baseline, code, args.nodes), per_node(args.current, code, args.nodes)
        print(f"{name:<22} {before:>20,.0f} {after:>19,.0f} {after / before:>17.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
