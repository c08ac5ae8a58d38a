"""The Argo analysis fields this controller does not implement, refused by path (never ignored).

One table for AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun ``spec`` (paths are the same in the three
kinds; ``templates`` exists only in the two template kinds). :mod:`analysis.spec` reports each one present as an
issue at its concrete path (``not supported: ...``); every other field it does not know is refused as an
``unknown field``, so nothing Argo has is accepted and then ignored. Our own CRDs declare the same fields and refuse
them in the API server (``tools/crdgen/analysis.py``); ``tests/unit/crds/test_argo_analysis_field_walk.py`` checks
the two agree and that every field path of Argo's published analysis CRDs is implemented or in :data:`REFUSED`.

Paths: ``.``-separated, ``[]`` marks every item of a list. See ``docs/argo-fields.md`` ("Analysis kinds").
"""

from __future__ import annotations

from workflows.api import configured

__all__ = ["ARGO_ONLY_PROVIDERS", "REFUSED", "configured", "present", "refused_fields"]

_METRIC = "spec.metrics[]"
_PROVIDER = f"{_METRIC}.provider"

#: Argo's metric providers we deliberately do not implement (refused by name, not as "unknown provider").
ARGO_ONLY_PROVIDERS: dict[str, str] = {
    "cloudWatch": "the cloudWatch metric provider",
    "datadog": "the datadog metric provider",
    "graphite": "the graphite metric provider",
    "influxdb": "the influxdb metric provider",
    "kayenta": "the kayenta metric provider",
    "newRelic": "the newRelic metric provider",
    "plugin": "metric provider plugins",
    "skywalking": "the skywalking metric provider",
    "wavefront": "the wavefront metric provider",
}

#: path -> the feature named in the message (``not supported: <feature>``).
REFUSED: dict[str, str] = {
    "spec.templates": "nested AnalysisTemplates (templates); list every template in the Rollout's analysis instead",
    f"{_METRIC}.consecutiveSuccessLimit": "consecutiveSuccessLimit; use count with failureLimit instead",
    f"{_PROVIDER}.prometheus.authentication": "prometheus authentication (sigv4/oauth2); use headers",
    f"{_PROVIDER}.web.authentication": "web authentication (sigv4/oauth2); use headers",
    **{f"{_PROVIDER}.{name}": feature for name, feature in ARGO_ONLY_PROVIDERS.items()},
}


#: Refused only when they set something: Argo's controller writes these Go structs as ``{}`` when they are unset.
_REFUSED_WHEN_CONFIGURED = frozenset({f"{_PROVIDER}.prometheus.authentication", f"{_PROVIDER}.web.authentication"})


def present(pattern: str, value: object) -> bool:
    """Whether a refused field (its table path and value) is set: any value but null, and for the structs Argo
    writes empty (``authentication``) only a value that sets something."""
    if value is None:
        return False
    return configured(value) if pattern in _REFUSED_WHEN_CONFIGURED else True


def refused_fields(context: str) -> dict[str, str]:
    """``{field: table path}`` of the refused fields directly inside ``context`` (a table path: ``spec.metrics[]``)."""
    prefix = f"{context}."
    return {
        pattern[len(prefix) :]: pattern
        for pattern in REFUSED
        if pattern.startswith(prefix) and "." not in pattern[len(prefix) :]
    }
