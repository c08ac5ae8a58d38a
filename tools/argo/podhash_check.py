"""Random pod templates, hashed by rollouts.core.hashing and by Argo Rollouts' own function: how many agree.

Generates templates from the generated shape table (every field of corev1.PodTemplateSpec can be drawn: quantities in
every notation, IntOrString, times, unusual unicode, nulls, empty lists and maps, unknown fields) and pipes them
through ``tools/argo/podhash.go`` (built inside Argo's module by ``tools/argo/run.sh``). Prints the count of matches
and, for the first mismatches, both JSON encodings.

    python -m tools.argo.podhash_check [--cases 400] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from rollouts.core.gojson import _List, _Map, _Ptr, _Struct, go_json, root_shape
from rollouts.core.hashing import argo_pod_template_hash

_STRINGS = [
    "", "a", "nginx:1.25", "<b>&amp;</b>", "line\nbreak\ttab", "\u2028\u2029", "é", "日本語", "😀", "\x01\x1f\x7f",
    "\b\f", "\ud800", "quote\"back\\slash", "\u00a0", "\ufffd", "a/b", "app.kubernetes.io/name", "0", "true",
]  # fmt: skip
_QUANTITIES = [
    "0", "1", "100m", "1000m", "0.5", "1.5", "500M", "1024Mi", "1Gi", "1.5Gi", "0.5Ki", "1.1Ki", "1e3", "1E3", "10e3",
    "1e-3", "+1", "-1", "01", "0.1m", "0.0000000001", "1n", "1u", "12345678901234567890", "1000000000000000000000",
    "1000E", "8Ei", "9Ei", "7Ei", "2048", "1k", "1000k", "1.G", "-0", "123.456", "0.001", "1Ki", "1023Ki", "1025",
    "100Mi", "2Ti", "5Pi", ".5", "0e0", "3e+2", "1e18", "100000",
]  # fmt: skip
_TIMES = ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123Z", "2024-01-02T05:04:05+02:00", "0001-01-01T00:00:00Z"]


def _value(shape: Any, rng: random.Random, depth: int) -> Any:
    if isinstance(shape, _Ptr):
        return None if rng.random() < 0.1 else _value(shape.elem, rng, depth)
    if isinstance(shape, _List):
        if depth > 6 or rng.random() < 0.15:
            return rng.choice([None, []])
        return [_value(shape.item, rng, depth + 1) for _ in range(rng.randint(1, 3))]
    if isinstance(shape, _Map):
        if rng.random() < 0.15:
            return rng.choice([None, {}])
        return {rng.choice([*_STRINGS, "k", "b", "a", "Z"]): _value(shape.value, rng, depth + 1) for _ in range(3)}
    if isinstance(shape, _Struct):
        if depth > 6:
            return {}
        count = min(len(shape.fields), rng.choice([0, 1, 2, 3, 5] if depth > 2 else [3, 5, 8, 12]))
        out = {f.name: _value(f.shape, rng, depth + 1) for f in rng.sample(shape.fields, count)}
        if rng.random() < 0.1:
            out["unknownField"] = {"x": 1}
        return out
    return _scalar(shape.kind, rng)


def _scalar(kind: str, rng: random.Random) -> Any:
    if kind == "string":
        return rng.choice(_STRINGS)
    if kind == "bool":
        return rng.choice([True, False])
    if kind in ("int", "uint"):
        return rng.choice([0, 1, 7, 30, 65535, 2147483647] + ([-1, -5] if kind == "int" else []))
    if kind == "quantity":
        if rng.random() < 0.5:
            return _random_quantity(rng)
        return rng.choice([*_QUANTITIES, 1, 0.5, 2, 1e-7, 1e3, 0.25, 1e21, 123456789012, -3])
    if kind == "intorstring":
        return rng.choice([0, 80, 8080, "http", "", "25%"])
    if kind == "time":
        return rng.choice(_TIMES)
    if kind in ("fieldsv1", "rawmessage"):
        return {"f:metadata": {"f:labels": {".": {}}}, "<": "&"}
    return None


def _random_quantity(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 1, 2, 3, 4, 9, 15, 19, 25])))
    if rng.random() < 0.4:
        digits += "." + "".join(rng.choice("0123456789") for _ in range(rng.choice([0, 1, 2, 3, 10])))
    suffix = rng.choice(["", "", "m", "k", "M", "G", "T", "P", "E", "n", "u", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])
    if rng.random() < 0.15:
        suffix = rng.choice(["e", "E"]) + rng.choice(["", "+", "-"]) + str(rng.randint(0, 30))
    return rng.choice(["", "", "", "+", "-"]) + digits + suffix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 -- reproducible test data, not secrets
    shape = root_shape("PodTemplateSpec")
    cases = []
    for index in range(args.cases):
        template = _value(shape, rng, 0)
        if index % 4 == 0:  # a container with many quantities in every notation
            resources = {key: {name: _scalar("quantity", rng) for name in ("cpu", "memory", "x")} for key in (
                "limits", "requests")}  # fmt: skip
            template = {"spec": {"containers": [{"name": "c", "resources": resources}]}}
        collision = rng.choice([None, None, 0, 1, 7, -1, 2147483647])
        cases.append((template, collision))
    lines = "".join(json.dumps({"template": t, "collisionCount": c}) + "\n" for t, c in cases)
    run = Path(__file__).with_name("run.sh")
    result = subprocess.run(  # noqa: S603 -- our own script, an argument list, no shell
        [str(run), "podhash"], input=lines, capture_output=True, text=True, check=True
    )
    matched = refused = 0
    shown = 0
    for (template, collision), line in zip(cases, result.stdout.splitlines(), strict=True):
        if line.startswith("error:"):
            refused += 1
            continue
        argo, go_encoding = line.split("\t", 1)
        if argo_pod_template_hash(template, collision) == argo:
            matched += 1
        elif shown < args.show:
            shown += 1
            ours = go_json(template, shape)
            at = next((i for i, (a, b) in enumerate(zip(ours, go_encoding, strict=False)) if a != b), None)
            print(f"MISMATCH at {at}:\n  go:   {go_encoding[max(0, (at or 0) - 80) : (at or 0) + 80]}")
            print(f"  ours: {ours[max(0, (at or 0) - 80) : (at or 0) + 80]}")
    compared = len(cases) - refused
    print(f"{matched}/{compared} matched ({refused} of {len(cases)} refused by Go's decoder)")
    return 0 if matched == compared else 1


if __name__ == "__main__":
    sys.exit(main())
