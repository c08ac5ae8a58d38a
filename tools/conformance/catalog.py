"""Which e2e suites and tests exist, which are in scope, and the fixed CI subset. Pure: text in, values out.

Argo's e2e suite is a set of testify suites, one ``func TestXSuite(t *testing.T) { suite.Run(t, new(XSuite)) }`` per
suite, whose test methods are the ``Test*`` methods of the suite's struct. ``go test -list`` only sees the top-level
functions, so the test list is read from the Go source of the module copy (``test/e2e/*_test.go``): the report then
names every test that should have run, including those a crashed or killed binary never reached.

Selection on the e2e binary (testify v1.11): ``-test.run '^TestCanarySuite$'`` picks a suite, ``-testify.m REGEX``
picks methods within it (matched against the method name only). Testify runs methods in the order reflection lists
them, which is sorted by name; :func:`discover` returns them in that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "CI_SUBSET",
    "DEFAULT_SUITES",
    "SUITES",
    "Suite",
    "TestId",
    "discover",
    "suite_named",
]


@dataclass(frozen=True, order=True)
class TestId:
    """One testify test: the suite's short name (``Canary``) and the method (``TestCanaryScaleDownOnAbort``)."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    suite: str
    name: str

    def __str__(self) -> str:
        return f"{self.suite}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> TestId:
        suite, sep, name = text.partition("/")
        if not sep or not suite or not name.startswith("Test"):
            raise ValueError(f"expected Suite/TestName, got {text!r}")
        return cls(suite=suite, name=name)


@dataclass(frozen=True)
class Suite:
    """A testify suite of Argo's e2e binary, by the short name used on our command line and in the report."""

    name: str

    @property
    def function(self) -> str:
        """The top-level Go test function that runs the suite (``-test.run '^TestCanarySuite$'``)."""
        return f"Test{self.name}Suite"


# The suites issue 10 puts in scope, in the order a run measures them: what drop-in mode promises (canary, blue-green,
# analysis, rollback window, Istio weights, header and mirror routes) and Experiments. Not listed: AWS/ALB, SMI,
# App Mesh, APISIX and step plugins (other providers, or AWS itself).
SUITES: tuple[Suite, ...] = (
    Suite("Functional"),
    Suite("Canary"),
    Suite("BlueGreen"),
    Suite("Analysis"),
    Suite("Rollback"),
    Suite("HeaderRouting"),
    Suite("MirrorRoute"),
    Suite("Istio"),
    Suite("Experiment"),
)
DEFAULT_SUITES: tuple[str, ...] = tuple(suite.name for suite in SUITES)


def suite_named(name: str) -> Suite:
    """The suite called ``name`` (case-insensitive; ``TestCanarySuite`` and ``Canary`` both work)."""
    wanted = name.lower().removeprefix("test").removesuffix("suite")
    for suite in SUITES:
        if suite.name.lower() == wanted:
            return suite
    known = ", ".join(suite.name for suite in SUITES)
    raise ValueError(f"unknown suite {name!r}; known suites: {known}")


_SUITE_RUN = re.compile(r"^func (Test\w+)\(t \*testing\.T\) \{\s*suite\.Run\(t, new\((\w+)\)\)", re.MULTILINE)
_METHOD = re.compile(r"^func \(\w+ \*(\w+)\) (Test\w*)\(\) \{", re.MULTILINE)


def discover(sources: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Go source texts of ``test/e2e`` -> for each suite function (``TestCanarySuite``), its test methods in order.

    A method is a test when its name starts with ``Test`` and it takes no arguments (testify's rule); the suite
    struct is the one the function passes to ``suite.Run``.
    """
    texts = list(sources)
    struct_of: dict[str, str] = {}
    methods: dict[str, set[str]] = {}
    for text in texts:
        struct_of.update(_SUITE_RUN.findall(text))
        for struct, method in _METHOD.findall(text):
            methods.setdefault(struct, set()).add(method)
    return {function: tuple(sorted(methods.get(struct, ()))) for function, struct in struct_of.items()}


def expected_tests(suites: Iterable[Suite], discovered: Mapping[str, tuple[str, ...]]) -> list[TestId]:
    """Every test of ``suites`` in run order; a suite missing from the source is an error, not an empty suite."""
    tests: list[TestId] = []
    for suite in suites:
        if suite.function not in discovered:
            raise ValueError(f"{suite.function} not found in the e2e sources (is this the pinned Argo version?)")
        tests.extend(TestId(suite=suite.name, name=name) for name in discovered[suite.function])
    return tests


# A fixed subset for CI: quick tests that pass against both Argo's controller and ours on the local cluster (the
# measured runs in docs/conformance.md), one or more per suite in scope: blue-green update/abort/full promotion, a
# strategy switch releasing its Service, invalid-spec recovery, abort/retry/promote, workloadRef scale-down, the
# metrics endpoint, pod volumes; setCanaryScale, ALB scale-down delay and abort, scaling a stuck update; blue-green
# pre-promotion analysis failing, a Job terminated with the update; the rollback window; Istio host and subset
# splits, ping-pong, header and mirror routes. A few minutes of tests plus the cluster start.
_CI_TESTS: dict[str, tuple[str, ...]] = {
    "Functional": (
        "TestBlueGreenPreviewReplicaCountPromoteFull",
        "TestBlueGreenScaleDownOnAbort",
        "TestBlueGreenToCanary",
        "TestBlueGreenUpdate",
        "TestContainerResourceFormats",
        "TestControllerMetrics",
        "TestFixInvalidSpec",
        "TestKubectlWaitForPaused",
        "TestNeverScaleDown",
        "TestRolloutAbortRetryPromote",
        "TestRolloutPodVolumesItemsSpec",
        "TestScaleDownOnSuccess",
        "TestScaleDownProgressively",
    ),
    "Canary": (
        "TestCanarySetCanaryScale",
        "TestCanaryScaleDownDelay",
        "TestCanaryScaleDownOnAbort",
        "TestRolloutScalingDuringUpdate",
    ),
    "BlueGreen": ("TestBlueGreenPreviewReplicaCount",),
    "Analysis": ("TestBlueGreenPrePromotionFail", "TestCanaryBackgroundAnalysisLongRunningJob"),
    "Rollback": ("TestRollbackAnalysisWithinWindow",),
    "HeaderRouting": ("TestIstioHostHeaderRoute",),
    "MirrorRoute": ("TestIstioHostMirrorRoute",),
    "Istio": ("TestIstioHostSplit", "TestIstioPingPongUpdate", "TestIstioSubsetSplit"),
}
CI_SUBSET: tuple[TestId, ...] = tuple(
    TestId(suite=suite, name=name) for suite, names in _CI_TESTS.items() for name in names
)
