"""Node table encoding: plain below the budget, compressed above, identical records after decoding."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import DagBuilder, Executor, ExecutorConfig, NoopRunner, RunnerRegistry, decode_nodes, encode_nodes
from workflows.model.status import NodeTable, previous_from_status


async def _table(count: int, *, fail: int = -1) -> NodeTable:
    builder = DagBuilder("big")
    for i in range(count):
        builder.add(f"step-{i}", kind="noop", depends=[f"step-{i // 2}"] if i else None)
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(builder.build())
    await run.wait()
    await executor.close()
    return run.node_table()


async def test_small_tables_stay_plain_and_large_ones_compress() -> None:
    small = await _table(10)
    assert "nodes" in encode_nodes(small, budget_bytes=64 * 1024)
    large = await _table(2000)
    encoded = encode_nodes(large, budget_bytes=64 * 1024)
    assert "compressedNodes" in encoded
    assert [r.to_argo() for r in decode_nodes(encoded)] == [r.to_argo() for r in large.records()]


async def test_fifty_thousand_nodes_fit_far_below_etcd_limit() -> None:
    table = await _table(50_000)
    encoded = encode_nodes(table, budget_bytes=256 * 1024)
    size = len(encoded["compressedNodes"])
    assert size < 1024 * 1024 // 2  # well under etcd's 1.5 MiB request limit, with room for the rest of the object
    decoded = decode_nodes(encoded)
    assert len(decoded) == 50_001
    assert decoded[1].name == "big.step-0"
    assert decoded[-1].children == ()  # a last-layer step has no dependents
    assert decoded[3].children == (decoded[5].id, decoded[6].id)  # step-2 -> step-4, step-5


async def test_decoded_status_restarts_a_run() -> None:
    table = await _table(5)
    status = encode_nodes(table, budget_bytes=0)
    previous = previous_from_status(status)
    assert previous["big.step-3"].phase.value == "Succeeded"


@settings(max_examples=40, deadline=None)
@given(
    display=st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), min_size=1, max_size=12
        ),
        min_size=1,
        max_size=40,
    ),
    phases=st.data(),
)
def test_compact_form_round_trips(display: list[str], phases: st.DataObject) -> None:
    count = len(display)
    parent = [-1] + [phases.draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, count)]
    table = NodeTable(
        workflow_name="wf",
        base_time=1_700_000_000,
        display=display,
        parent=parent,
        types="".join(phases.draw(st.sampled_from("DPHSMT")) for _ in range(count)),
        phases="".join(phases.draw(st.sampled_from("PRSFEKO")) for _ in range(count)),
        started=[phases.draw(st.integers(min_value=-1, max_value=10_000)) for _ in range(count)],
        finished=[phases.draw(st.integers(min_value=-1, max_value=500)) for _ in range(count)],
        children=[
            sorted(phases.draw(st.sets(st.integers(min_value=0, max_value=count - 1), max_size=3)))
            for _ in range(count)
        ],
        templates=[phases.draw(st.sampled_from(["a", "b", ""])) for _ in range(count)],
        messages={i: "m" for i in range(count) if i % 3 == 0},
        results={i: json.dumps(i) for i in range(count) if i % 4 == 0},
        retries={i: 2 for i in range(count) if i % 5 == 0},
    )
    from workflows.model.status import compress_table, decompress_table

    back = decompress_table(compress_table(table))
    assert back == table


def test_plain_argo_map_form_is_accepted() -> None:
    status = {"nodes": {"wf": {"id": "wf", "name": "wf", "displayName": "wf", "type": "DAG", "phase": "Running"}}}
    assert decode_nodes(status)[0].phase.value == "Running"
    asyncio.get_event_loop_policy()  # no loop needed: decoding is pure


@settings(max_examples=60, deadline=None)
@given(
    columns=st.dictionaries(
        st.text(max_size=4),
        st.one_of(
            st.lists(st.one_of(st.none(), st.integers(-5, 10**6), st.lists(st.integers(-3, 3), max_size=3))),
            st.text(max_size=20),
            st.dictionaries(st.text(max_size=3), st.text(max_size=5), max_size=3),
            st.integers(),
        ),
        max_size=6,
    ),
    chunk=st.integers(min_value=1, max_value=5),
)
def test_sliced_json_is_byte_identical_to_one_dumps(columns: dict[str, object], chunk: int) -> None:
    import workflows.model.status as status_module

    original = status_module._CHUNK_ROWS
    status_module._CHUNK_ROWS = chunk  # tiny slices so hypothesis' short lists get cut, and the last slice is short
    try:
        assert status_module.compact_json(columns) == json.dumps(columns, separators=(",", ":"))
    finally:
        status_module._CHUNK_ROWS = original


async def test_a_large_table_encodes_identically_in_slices() -> None:
    from workflows.model.status import compact_json

    table = await _table(12_000)
    data = table.compact()
    assert compact_json(data) == json.dumps(data, separators=(",", ":"))
