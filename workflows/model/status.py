"""Status encoding: the node table, plain while small, compact + zstd + base64 past a byte budget.

Argo stores ``status.nodes`` plainly and falls over past a few thousand nodes (etcd's 1.5 MiB request limit). Here
the table is kept as columns (:class:`NodeTable`), so the compact form is cheap to build and compresses to a few
bytes per node: names are stored as the display name plus the index of the boundary (full names and Argo node ids are
recomputed on decode), phases and types are one character each, times are integer second offsets, and messages,
templates and results are sparse. :func:`encode_nodes` returns ``{"nodes": [...]}`` or ``{"compressedNodes": "..."}``;
:func:`decode_nodes` accepts either. Encoding happens once per status write, never per node event.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import zstandard

from workflows.model import collector
from workflows.model.hashing import fnv32a
from workflows.model.phases import P_NONE, PHASE_OF, NodePhase, NodeType
from workflows.model.times import format_epoch, parse_epoch

if TYPE_CHECKING:
    from workflows.model.plan import NodeSpec

FORMAT_VERSION = 1
_NO_KIDS: list[int] = []  # shared by every childless row of compact(): fewer allocations, same JSON
_PHASE_CHARS = "-PRSFEKO"  # index = phase code
_TYPE_CHARS = dict(zip(NodeType, "DGPHSKMT", strict=True))
_TYPE_OF_CHAR = {c: t for t, c in _TYPE_CHARS.items()}


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's node id: the workflow name for the root node, ``<workflow>-<fnv32a(name)>`` otherwise; stable."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


class NodeIds:
    """``node_id`` for one workflow, remembering the hash state of each name prefix (the parent's ``name.``).

    Names are ``<parent name>.<display name>``, so siblings share everything up to the last dot; continuing the
    fold from the cached prefix state hashes only the short tail. Same ids as :func:`node_id`, about 3x cheaper.
    """

    __slots__ = ("_prefixes", "_workflow")

    def __init__(self, workflow_name: str) -> None:
        self._workflow = workflow_name
        self._prefixes: dict[str, int] = {}

    def __call__(self, node_name: str) -> str:
        workflow = self._workflow
        if node_name == workflow:
            return workflow
        prefix, dot, tail = node_name.rpartition(".")
        if not dot:
            return f"{workflow}-{fnv32a(node_name)}"
        state = self._prefixes.get(prefix)
        if state is None:
            state = self._prefixes[prefix] = fnv32a(prefix + ".")
        return f"{workflow}-{fnv32a(tail, state)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    """One row of the node table in Argo's field names (see :meth:`to_argo`)."""

    id: str
    name: str
    display_name: str
    type: NodeType
    phase: NodePhase
    boundary_id: str | None
    children: tuple[str, ...]
    template_name: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    message: str = ""
    result: str | None = None
    retries: int = 0

    def to_argo(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "type": self.type.value,
            "phase": self.phase.value,
        }
        if self.template_name:
            out["templateName"] = self.template_name
        if self.boundary_id:
            out["boundaryID"] = self.boundary_id
        if self.children:
            out["children"] = list(self.children)
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.message:
            out["message"] = self.message
        if self.result is not None:
            out["outputs"] = {"result": self.result}
        if self.retries:
            out["retries"] = self.retries
        return out

    @classmethod
    def from_argo(cls, raw: Mapping[str, Any]) -> NodeRecord:
        return cls(
            id=str(raw["id"]),
            name=str(raw["name"]),
            display_name=str(raw.get("displayName", raw["name"])),
            type=NodeType(raw.get("type", "Task")),
            phase=NodePhase(raw.get("phase", "Pending")),
            boundary_id=raw.get("boundaryID"),
            children=tuple(raw.get("children", ())),
            template_name=str(raw.get("templateName", "")),
            started_at=raw.get("startedAt"),
            finished_at=raw.get("finishedAt"),
            message=str(raw.get("message", "")),
            result=(raw.get("outputs") or {}).get("result"),
            retries=int(raw.get("retries", 0)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTable:
    """The created nodes of a run, as columns; ``parent[i]`` is the row of the boundary/owner (-1 for top)."""

    workflow_name: str
    base_time: int
    display: list[str]
    parent: list[int]
    types: str
    phases: str
    started: list[int]  # seconds since base_time (-1: not started)
    finished: list[int]  # seconds after started (-1: not finished)
    children: list[Sequence[int]]  # lists when decoded, the plan's tuples when built from a finished run
    templates: list[str]
    messages: dict[int, str]
    results: dict[int, str]
    retries: dict[int, int]

    @classmethod
    def from_snapshot(cls, snap: RunSnapshot) -> NodeTable:
        """Columns by list comprehension: one pass per column is several times cheaper than one pass of appends."""
        phase = snap.phase
        nodes = snap.nodes
        everything = P_NONE not in phase  # every node was created (a finished run): rows are node indices
        rows: Sequence[int] = range(len(nodes)) if everything else [i for i, p in enumerate(phase) if p != P_NONE]
        specs = nodes if everything else [nodes[i] for i in rows]
        row_of: dict[int, int] = {} if everything else {index: row for row, index in enumerate(rows)}
        base = int(snap.started_at)
        ups = [spec.owner if spec.owner >= 0 else spec.boundary for spec in specs]
        parent = ups if everything else [row_of.get(up, -1) for up in ups]
        started_at = [snap.started[i] for i in rows] if not everything else snap.started
        finished_at = [snap.finished[i] for i in rows] if not everything else snap.finished
        # Argo's children: a DAG lists its root tasks, a task lists the tasks that depend on it
        children_of = snap.children_of
        kids: list[Sequence[int]] = [
            spec.roots
            if spec.type is NodeType.DAG
            else (children_of.get(index, spec.children) if spec.type is NodeType.TASK_GROUP else spec.dependents)
            for index, spec in zip(rows, specs, strict=True)
        ]
        # finished run: the specs' own tuples, no per-row allocation (and so no garbage-collector pressure)
        children: list[Sequence[int]] = kids if everything else [[row_of[k] for k in ks if k in row_of] for ks in kids]
        messages, results, attempts = snap.messages, snap.results, snap.attempts
        if everything:
            row_messages, row_results, row_retries = dict(messages), dict(results), dict(attempts)
        else:
            row_messages = {row_of[i]: m for i, m in messages.items() if i in row_of}
            row_results = {row_of[i]: r for i, r in results.items() if i in row_of}
            row_retries = {row_of[i]: a for i, a in attempts.items() if i in row_of}
        return cls(
            workflow_name=snap.workflow_name,
            base_time=base,
            display=[spec.display_name for spec in specs],
            parent=parent,
            types="".join([_TYPE_CHARS[spec.type] for spec in specs]),
            phases="".join([_PHASE_CHARS[phase[i]] for i in rows]),
            started=[int(s) - base if s else -1 for s in started_at],
            finished=[int(f) - int(s) if f else -1 for s, f in zip(started_at, finished_at, strict=True)],
            children=children,
            templates=[spec.template_name for spec in specs],
            messages=dict(sorted(row_messages.items())),
            results=dict(sorted(row_results.items())),
            retries=dict(sorted(row_retries.items())),
        )

    def __len__(self) -> int:
        return len(self.display)

    def names(self) -> list[str]:
        names: list[str] = []
        for row, display in enumerate(self.display):
            up = self.parent[row]
            if up < 0:
                names.append(display)
            elif self.types[up] == "G":  # loop children hang off the group's DAG: "dag.task(0:x)"
                names.append(f"{names[self.parent[up]]}.{display}" if self.parent[up] >= 0 else display)
            else:
                names.append(f"{names[up]}.{display}")
        return names

    def records(self) -> list[NodeRecord]:
        names = self.names()
        ids = list(map(NodeIds(self.workflow_name), names))
        times: dict[int, str | None] = {}  # rows share seconds: format each distinct second once

        def rfc3339(ts: int) -> str | None:
            text = times.get(ts)
            if text is None:
                text = times[ts] = format_epoch(ts)
            return text

        out = []
        for row, name in enumerate(names):
            up = self.parent[row]
            boundary = up
            while boundary >= 0 and self.types[boundary] != "D":
                boundary = self.parent[boundary]
            s = self.started[row]
            f = self.finished[row]
            start = self.base_time + s if s >= 0 else 0
            out.append(
                NodeRecord(
                    id=ids[row],
                    name=name,
                    display_name=self.display[row],
                    type=_TYPE_OF_CHAR[self.types[row]],
                    phase=PHASE_OF[_PHASE_CHARS.index(self.phases[row])] or NodePhase.PENDING,
                    boundary_id=ids[boundary] if boundary >= 0 else None,
                    children=tuple(ids[k] for k in self.children[row]),
                    template_name=self.templates[row],
                    started_at=rfc3339(start) if s >= 0 else None,
                    finished_at=rfc3339(start + f) if f >= 0 and s >= 0 else None,
                    message=self.messages.get(row, ""),
                    result=self.results.get(row),
                    retries=self.retries.get(row, 0),
                )
            )
        return out

    def compact(self) -> dict[str, Any]:
        """Columnar JSON: deltas and one-char codes so zstd finds the repetition."""
        template_names = sorted(set(self.templates))
        template_index = {name: i for i, name in enumerate(template_names)}
        prev = 0
        started_delta = []
        for value in self.started:
            started_delta.append(value - prev if value >= 0 else None)
            prev = value if value >= 0 else prev
        return {
            "v": FORMAT_VERSION,
            "w": self.workflow_name,
            "b": self.base_time,
            "d": "\n".join(self.display),
            "p": [row - up if up >= 0 else 0 for row, up in enumerate(self.parent)],
            "t": self.types,
            "s": self.phases,
            "a": started_delta,
            "f": self.finished,
            "c": [[k - row for k in kids] if kids else _NO_KIDS for row, kids in enumerate(self.children)],
            "tn": template_names,
            "ti": [template_index[name] for name in self.templates],
            "m": {str(k): v for k, v in self.messages.items()},
            "r": {str(k): v for k, v in self.results.items()},
            "rt": {str(k): v for k, v in self.retries.items()},
        }

    @classmethod
    def from_compact(cls, data: Mapping[str, Any]) -> NodeTable:
        if data.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown compressedNodes format version {data.get('v')!r}")
        started = []
        prev = 0
        for delta in data["a"]:
            if delta is None:
                started.append(-1)
            else:
                prev += delta
                started.append(prev)
        display = data["d"].split("\n") if data["d"] else []
        names = data["tn"]
        return cls(
            workflow_name=data["w"],
            base_time=int(data["b"]),
            display=display,
            parent=[row - delta if delta else -1 for row, delta in enumerate(data["p"])],
            types=data["t"],
            phases=data["s"],
            started=started,
            finished=list(data["f"]),
            children=[[row + k for k in kids] for row, kids in enumerate(data["c"])],
            templates=[names[i] for i in data["ti"]],
            messages={int(k): v for k, v in data["m"].items()},
            results={int(k): v for k, v in data["r"].items()},
            retries={int(k): int(v) for k, v in data["rt"].items()},
        )


# Level 3 is zstd's default: on the columnar JSON it is ~10x faster than level 10 and no larger (the columns are
# already delta-coded, so the extra search depth finds nothing; measured in bench/bench_engine.py). Decoders do not
# care about the level. A compressor object is not thread-safe, so each call makes its own (cheap).
_ZSTD_LEVEL = 3


_CHUNK_ROWS = 4096


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def compact_json(data: Mapping[str, Any]) -> str:
    """``json.dumps(data, separators=(",", ":"))``, byte for byte, but long lists go in slices of 4,096 rows.

    One ``json.dumps`` call holds the GIL from start to end; on a 50,000-row column that is tens of milliseconds
    during which the event loop thread cannot run, although the encoding is on another thread. Slices keep each
    hold to a few milliseconds.
    """
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and len(value) > _CHUNK_ROWS:
            pieces = [_dumps(value[i : i + _CHUNK_ROWS])[1:-1] for i in range(0, len(value), _CHUNK_ROWS)]
            text = "[" + ",".join(pieces) + "]"
        else:
            text = _dumps(value)
        parts.append(f"{_dumps(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def compress_table(table: NodeTable) -> str:
    # compact() makes a list per row, all garbage a moment later: see workflows.model.collector
    with collector.young_only():
        raw = compact_json(table.compact()).encode()
    return base64.b64encode(zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(raw)).decode("ascii")


def decompress_table(blob: str) -> NodeTable:
    raw = zstandard.ZstdDecompressor().decompress(base64.b64decode(blob), max_output_size=512 * 1024 * 1024)
    with collector.young_only():  # a list per row, as in compress_table
        return NodeTable.from_compact(json.loads(raw))


def encode_nodes(table: NodeTable, *, budget_bytes: int) -> dict[str, Any]:
    """``{"nodes": [...]}`` while the plain JSON fits ``budget_bytes``, else ``{"compressedNodes": "..."}``."""
    if len(table) * 120 <= budget_bytes:  # cheap pre-check: plain rows are >= ~120 bytes each
        plain = [record.to_argo() for record in table.records()]
        if len(json.dumps(plain, separators=(",", ":"))) <= budget_bytes:
            return {"nodes": plain}
    return {"compressedNodes": compress_table(table)}


def decode_nodes(status: Mapping[str, Any]) -> list[NodeRecord]:
    """The node table of a status body, whichever form it was stored in."""
    if status.get("compressedNodes"):
        table = decompress_table(str(status["compressedNodes"]))
        with collector.young_only():  # one record per row, all kept: like a compile (see workflows.model.collector)
            return table.records()
    nodes = status.get("nodes") or []
    if isinstance(nodes, Mapping):  # Argo's map form
        nodes = list(nodes.values())
    return [NodeRecord.from_argo(raw) for raw in nodes]


def previous_from_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """Node name -> :class:`~workflows.model.plan.PreviousNode`: restart a run where a previous controller left it."""
    from workflows.model.plan import PreviousNode

    out: dict[str, Any] = {}
    for record in decode_nodes(status):
        out[record.name] = PreviousNode(
            phase=record.phase,
            started_at=parse_epoch(record.started_at) or None,
            finished_at=parse_epoch(record.finished_at) or None,
            message=record.message,
            result=record.result,
            retries=record.retries,
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSnapshot:
    """A run's flat per-node state at one instant: cheap to take on the event loop, encoded anywhere.

    The scheduler (:meth:`workflows.model.scheduler.Scheduler.snapshot`) mutates its per-node lists in place, so a
    snapshot holds shallow copies of them (list and dict copies run at C speed: ~1 ms for 50,000 nodes). Node specs
    are immutable and shared. Building the node table, JSON, zstd and base64 can then run on a worker thread without
    racing the loop.
    """

    workflow_name: str
    workflow_phase: str
    message: str
    started_at: float
    finished_at: float
    done_leaves: int
    total_leaves: int
    nodes: Sequence[NodeSpec]
    phase: list[int]
    started: list[float]
    finished: list[float]
    messages: Mapping[int, str]
    results: Mapping[int, str]
    attempts: Mapping[int, int]
    children_of: Mapping[int, Sequence[int]]


def status_from_snapshot(snap: RunSnapshot, *, budget_bytes: int) -> dict[str, Any]:
    """The ``status`` body for a snapshot; pure and thread-safe (the executor runs it off the loop)."""
    with collector.young_only():
        table = NodeTable.from_snapshot(snap)
    phases = table.phases
    counts: dict[str, int] = {}
    for char in sorted(set(phases), key=phases.index):  # first-appearance order, as a per-row pass would give
        phase = PHASE_OF[_PHASE_CHARS.index(char)]
        assert phase is not None
        counts[phase.value] = phases.count(char)
    status: dict[str, Any] = {
        "phase": snap.workflow_phase,
        "startedAt": format_epoch(snap.started_at),
        "finishedAt": format_epoch(snap.finished_at) if snap.finished_at else None,
        "progress": f"{snap.done_leaves}/{snap.total_leaves}",
        "message": snap.message,
        "counts": counts,
    }
    status.update(encode_nodes(table, budget_bytes=budget_bytes))
    return status
