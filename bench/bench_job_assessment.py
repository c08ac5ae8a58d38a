"""Assessing N running container steps: one shared watch (what the engine does) vs one GET per Job per pass.

Argo's controller assessed running pods one after another on every pass, so a wide DAG spent its time polling.
Here the JobIndex lists once and then follows a single watch stream; every waiting step is resolved in O(1).
This benchmark creates N Jobs on a real cluster, waits until all are complete, then measures how long each
strategy takes to learn all N outcomes, in the same run:
- serial: GET each Job in turn (one "assessment pass" of a polling controller);
- threaded: the same GETs spread over 16 threads (a polling controller with a worker pool);
- watch: a fresh JobIndex (LIST + watch) until all N awaiting steps are resolved.

    python bench/bench_job_assessment.py [--jobs 300]   # starts its own local cluster
    ROLLOUTS_BENCH_KUBECONFIG=... python bench/bench_job_assessment.py   # reuse a running one
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rollouts.devcluster import running_cluster
from workflows.api import MANAGED_LABEL, MANAGER
from workflows.runtime.jobs import JobIndex, outcome_of
from workflows.runtime.kube import JOBS, NAMESPACES, Kube


def create_jobs(kube: Kube, namespace: str, count: int) -> list[str]:
    names = [f"bench-{index}" for index in range(count)]
    for name in names:
        body: dict[str, Any] = {
            "metadata": {"name": name, "labels": {MANAGED_LABEL: MANAGER}},
            "spec": {
                "backoffLimit": 0,
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}},
            },
        }
        kube.create(JOBS, body, namespace)
    return names


def all_complete(kube: Kube, namespace: str, count: int) -> bool:
    return sum(1 for job in kube.list(JOBS, namespace).items if outcome_of(job)) == count


def read_outcome(kube: Kube, namespace: str, name: str) -> bool:
    job = kube.get(JOBS, name, namespace)
    return job is not None and outcome_of(job) is not None


def serial_pass(kube: Kube, namespace: str, names: list[str]) -> float:
    started = time.perf_counter()
    known = [read_outcome(kube, namespace, n) for n in names]
    elapsed = time.perf_counter() - started
    assert all(known)
    return elapsed


def threaded_pass(kube: Kube, namespace: str, names: list[str]) -> float:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        known = list(pool.map(lambda n: read_outcome(kube, namespace, n), names))
    elapsed = time.perf_counter() - started
    assert all(known)
    return elapsed


async def watch_pass(kube: Kube, namespace: str, names: list[str]) -> float:
    loop = asyncio.get_running_loop()
    index = JobIndex(kube, loop=loop)
    started = time.perf_counter()
    index.start()
    outcomes = await asyncio.gather(*(index.wait(namespace, name) for name in names))
    elapsed = time.perf_counter() - started
    index.stop()
    assert len(outcomes) == len(names)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with ExitStack() as stack:
        kubeconfig = os.environ.get("ROLLOUTS_BENCH_KUBECONFIG")
        if not kubeconfig:
            state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cluster-")))
            kubeconfig = str(stack.enter_context(running_cluster(state, nodes=2)).kubeconfig)
        kube = Kube.from_kubeconfig(kubeconfig)
        namespace = f"bench-{uuid.uuid4().hex[:6]}"
        kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        time.sleep(1)
        started = time.perf_counter()
        names = create_jobs(kube, namespace, args.jobs)
        while not all_complete(kube, namespace, args.jobs):
            time.sleep(0.5)
        print(f"{args.jobs} Jobs created and completed in {time.perf_counter() - started:.1f}s")
        serial = min(serial_pass(kube, namespace, names) for _ in range(args.repeat))
        threaded = min(threaded_pass(kube, namespace, names) for _ in range(args.repeat))
        watched = min(asyncio.run(watch_pass(kube, namespace, names)) for _ in range(args.repeat))
        print(f"serial GET pass   : {serial * 1000:8.1f} ms  ({serial / args.jobs * 1e6:7.0f} us/job)")
        print(f"16-thread GET pass: {threaded * 1000:8.1f} ms  ({threaded / args.jobs * 1e6:7.0f} us/job)")
        print(f"shared watch      : {watched * 1000:8.1f} ms  ({watched / args.jobs * 1e6:7.0f} us/job)")
        print(f"ratio serial/watch: {serial / watched:.1f}x   threaded/watch: {threaded / watched:.1f}x")
        kube.delete(NAMESPACES, namespace)
        kube.close()


if __name__ == "__main__":
    main()
