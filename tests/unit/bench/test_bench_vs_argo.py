"""The pure parts of bench/bench_vs_argo.py: reading the API server's per-FlowSchema counter, CPU from /proc, the
Healthy test both controllers' Rollouts pass, and the results block."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_PATH = Path(__file__).resolve().parents[3] / "bench" / "bench_vs_argo.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_vs_argo", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_vs_argo"] = module
    spec.loader.exec_module(module)
    return module


METRICS = """# HELP apiserver_flowcontrol_dispatched_requests_total [BETA] Number of requests executed
# TYPE apiserver_flowcontrol_dispatched_requests_total counter
apiserver_flowcontrol_dispatched_requests_total{flow_schema="bench-argo",priority_level="workload-high"} 120
apiserver_flowcontrol_dispatched_requests_total{flow_schema="bench-ours",priority_level="workload-high"} 300
apiserver_flowcontrol_dispatched_requests_total{flow_schema="bench-ours",priority_level="exempt"} 7
apiserver_flowcontrol_dispatched_requests_total{flow_schema="global-default",priority_level="global-default"} 9e+03
"""


def test_requests_are_summed_per_flow_schema(bench: ModuleType) -> None:
    assert bench.dispatched_requests(METRICS, "bench-argo") == 120
    assert bench.dispatched_requests(METRICS, "bench-ours") == 307
    assert bench.dispatched_requests(METRICS, "global-default") == 9000
    assert bench.dispatched_requests(METRICS, "bench-nobody") == 0


def test_cpu_seconds_read_past_a_command_with_spaces(bench: ModuleType) -> None:
    line = "4242 (python -m rollouts) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 10 5 20 0 8 0 1 2 3"
    assert bench.cpu_seconds(line, 100) == pytest.approx(3.15)


def test_percentiles_by_nearest_rank(bench: ModuleType) -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.5) == 50.0
    assert bench.percentile(values, 0.99) == 99.0
    assert bench.percentile([], 0.5) == 0.0


def test_healthy_means_the_asked_generation_fully_promoted(bench: ModuleType) -> None:
    done = {"phase": "Healthy", "observedGeneration": "2", "stableRS": "abc", "currentPodHash": "abc"}
    assert bench.healthy_on(done, generation=2)
    assert not bench.healthy_on({**done, "observedGeneration": "1"}, generation=2)
    assert not bench.healthy_on({**done, "currentPodHash": "def"}, generation=2)
    assert not bench.healthy_on({**done, "phase": "Progressing"}, generation=2)


def test_the_block_has_a_row_per_run_and_ratios_and_replaces_itself(bench: ModuleType) -> None:
    argo = bench.Result(
        controller="argo", n=10, update_s=10.0, cpu_s=2.0, apiserver_cpu_s=4.0, requests=400, peak_rss_mib=100.0
    )
    ours = bench.Result(
        controller="ours", n=10, update_s=5.0, cpu_s=3.0, apiserver_cpu_s=3.0, requests=200, peak_rss_mib=120.0
    )
    block = bench.render([argo, ours], when="now", machine="m", versions="v")
    assert "| 10 | 0.50 | 1.50 | 0.75 | 0.50 | 1.20 |" in block
    assert block.count("\n| 10 | ") == 3  # a row per controller, and the ratios
    document = "# Performance\n\nintro\n"
    once = bench.replace_block(document, block)
    assert once.startswith(document.rstrip("\n"))
    twice = bench.replace_block(once, block.replace("now", "later"))
    assert twice.count(bench.BEGIN) == 1
    assert "Measured later" in twice
    fast = bench.render([argo], when="now", machine="m", versions="v", markers=bench.FAST_MARKERS)
    both = bench.replace_block(twice, fast, bench.FAST_MARKERS)
    assert both.count(bench.BEGIN) == 1
    assert both.count(bench.FAST_MARKERS[0]) == 1  # the fast-KCM block lives beside the default one


def test_a_controllers_own_request_counter_is_summed_by_resource_and_verb(bench: ModuleType) -> None:
    """Argo's series carry namespace, name and status; ours the status: both sum to (resource, verb)."""
    text = """# TYPE controller_clientset_k8s_request_total counter
controller_clientset_k8s_request_total{kind="replicasets",name="N/A",namespace="ns",status_code="200",verb="List"} 3
controller_clientset_k8s_request_total{kind="replicasets",name="N/A",namespace="other",status_code="200",verb="List"} 2
controller_clientset_k8s_request_total{kind="rollouts",status_code="409",verb="Patch"} 1
controller_clientset_k8s_request_total{kind="rollouts",status_code="200",verb="Patch"} 4
"""
    assert bench.requests_by_kind_verb(text) == {("replicasets", "List"): 5, ("rollouts", "Patch"): 5}


def test_step_latency_runs_from_both_replica_sets_at_the_steps_counts_to_the_next_step_written(
    bench: ModuleType,
) -> None:
    seen = bench.Seen
    replica_sets = [
        seen(10.0, "a", "old", 2),  # the stable ReplicaSet: not the new hash
        seen(11.0, "a", "new", 0),
        seen(12.0, "a", "new", 1),  # step 0's canary pod is available, but the stable still has 2
        seen(12.4, "a", "old", 1),  # ... now it is at 1: step 0's counts
        seen(15.0, "a", "new", 2),  # step 2's canary pods
        seen(15.1, "a", "old", 0),  # and the stable at 0
        seen(12.5, "b", "new", 1),  # b has no other ReplicaSet in view: ready at once
    ]
    rollouts = [
        seen(11.0, "a", "new", 0),
        seen(12.42, "a", "new", 1),  # step 0 done 20 ms after the counts
        seen(13.1, "a", "new", 2),  # the pause: not a weighted step
        seen(15.4, "a", "new", 3),  # step 2 done 300 ms after them
        seen(12.4, "b", "new", 1),  # the write seen before the pod (the watches race): 0
    ]
    got = bench.step_latencies(replica_sets, rollouts, {"a": "new", "b": "new", "c": "new"})
    assert [round(x, 3) for x in got] == [0.02, 0.3, 0.0]


def test_a_step_is_not_ready_while_the_other_replica_sets_hold_more_than_the_rest(bench: ModuleType) -> None:
    seen = bench.Seen
    replica_sets = [seen(1.0, "a", "old", 2), seen(2.0, "a", "new", 2)]
    assert bench.step_ready_at(replica_sets, "a", "new", 1) is None
    assert bench.step_ready_at([*replica_sets, seen(3.0, "a", "old", 1)], "a", "new", 1) == 3.0


def test_a_profile_summary_names_the_largest_self_costs_and_each_packages_share(bench: ModuleType) -> None:
    site = "/v/lib/python3.11/site-packages"
    collapsed = "\n".join(
        [
            f"process 1:MainThread;run (/src/rollouts/controller/rollouts.py:10);loads ({site}/orjson/x.py:3) 6",
            f"process 1:MainThread;run (/src/rollouts/controller/rollouts.py:10);spawn ({site}/kopf/_core/a.py:9) 3",
            "process 1:Thread-2;select (/usr/lib/python3.11/selectors.py:4) 1",
            "process 1:Thread-3;run (threading.py:9);request (urllib3/connectionpool.py:7) 2",
            "garbage line",
        ]
    )
    lines = bench.profile_summary(collapsed)
    assert lines[0] == "12 busy samples; largest self costs:"
    assert "   50.0%  loads (orjson)" in lines
    assert "   25.0%  spawn (kopf)" in lines
    assert "   75.0%  rollouts" in lines
    assert "    8.3%  stdlib selectors" in lines
    assert "   16.7%  request (urllib3)" in lines  # py-spy's shortened path: the package, not the standard library
    assert "   16.7%  stdlib threading" in lines
    assert bench.profile_summary("") == ["no samples"]
