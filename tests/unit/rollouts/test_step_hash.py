"""``status.currentStepHash`` is Argo's own, so a Rollout taken over from Argo's controller mid-update keeps its step.

Each expected value was computed by Argo Rollouts v1.10.1's ``conditions.ComputeStepHash`` (``tools/argo/stephash.go``);
400 random step lists were also checked against it when the encoder was written. An absent ``steps`` field hashes Go's
``null``, an empty list ``[]``, as Argo's do.
"""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.core.hashing import steps_hash

ARGO_HASHES: list[tuple[Any, str]] = [
    ([{"setWeight": 50}, {"pause": {"duration": "3s"}}], "77fbc56786"),
    ([{"setWeight": 0}, {"pause": {}}], "67fdcb5c69"),
    ([{"pause": {"duration": 10}}, {"setWeight": 100}], "6db56cbbc5"),
    (
        [
            {
                "analysis": {
                    "templates": [{"templateName": "a", "clusterScope": True}],
                    "args": [
                        {"name": "x", "value": "y"},
                        {"name": "h", "valueFrom": {"podTemplateHashValue": "Latest"}},
                        {"name": "f", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                }
            }
        ],
        "55746d87dc",
    ),
    (
        [
            {
                "analysis": {
                    "templates": [{"templateName": "a", "clusterScope": False}],
                    "dryRun": [{"metricName": "m"}],
                    "measurementRetention": [{"metricName": "m", "limit": 2}],
                    "analysisRunMetadata": {"labels": {"b": "1", "a": "2"}},
                }
            }
        ],
        "59f96bdf9f",
    ),
    (
        [
            {"setCanaryScale": {"weight": 20}},
            {"setCanaryScale": {"replicas": 3}},
            {"setCanaryScale": {"matchTrafficWeight": True}},
        ],
        "685d5c4447",
    ),
    (
        [
            {
                "setHeaderRoute": {
                    "name": "h",
                    "match": [
                        {"headerName": "x", "headerValue": {"exact": "<a&b>"}},
                        {"headerName": "y", "headerValue": {"regex": "^é.*"}},
                    ],
                }
            },
            {"setHeaderRoute": {"name": "h"}},
        ],
        "69c9774b6c",
    ),
    (
        [
            {
                "setMirrorRoute": {
                    "name": "m",
                    "percentage": 30,
                    "match": [
                        {
                            "method": {"exact": "GET"},
                            "path": {"prefix": "/"},
                            "headers": {"z": {"exact": "1"}, "a": {"prefix": "p"}},
                        }
                    ],
                }
            }
        ],
        "78d4dbc568",
    ),
    ([{"setWeight": 5}, {"setMirrorRoute": {"name": "m"}}], "7679b88876"),
    ([], "5f8cb5778f"),
    (None, "5ffbfbbd64"),
]


@pytest.mark.parametrize(("steps", "argo"), ARGO_HASHES)
def test_the_steps_hash_is_argos(steps: Any, argo: str) -> None:
    assert steps_hash(steps) == argo
