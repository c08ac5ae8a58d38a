"""Which e2e tests are not applicable on this harness's cluster, and why: a small, reviewed table. Pure.

Three kinds of entries:
- **Needs the internet** (public hosts, AWS): never run; not applicable by definition, for every controller.
- **Deferred** (tests that use Experiments): issue 10 has them join the applicable set once Experiments exist (the
  statistical-judge issue); until then they are not run against either controller, and a saved run re-judged
  (``--rejudge``) shows them deferred too, so both columns count the same set.
- **Environmental failures**: tests that Argo's own controller fails on the container-less cluster for a reason that
  lies in the environment, not in the controller (chiefly the fake kubelet: KWOK completes every Job pod whatever
  its command and makes bad images and commands Ready). Such a test still runs; its failure is "not applicable" only
  when the failure output matches the entry's ``evidence``, so a different failure is reported as a failure, and a
  pass is a pass (the entry is then stale: the report flags it, and the environment can be re-measured).

Every entry carries a one-line ``reason`` (shown in the report) and a ``justification`` for reviewers: what the test
needs that the environment does not give, checked against the test's source and Argo's failure output. Add entries
only from a measured run against Argo's controller, never to hide a failure of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tools.conformance.catalog import TestId

__all__ = ["RULES", "Category", "Rule", "environmental_failure", "not_run"]


class Category(StrEnum):
    INTERNET = "needs the internet"
    DEFERRED = "deferred until Experiments exist"
    FAKE_KUBELET = "environment: fake kubelet"
    NO_POD_NETWORK = "environment: no pod network"


@dataclass(frozen=True, kw_only=True)
class Rule:
    test: TestId
    category: Category
    reason: str
    justification: str
    # A regular expression searched in the failed test's output; None: the test is not run at all.
    evidence: str | None = None

    def describe(self) -> str:
        return f"{self.category}: {self.reason}"


def _t(text: str) -> TestId:
    return TestId.parse(text)


RULES: tuple[Rule, ...] = (
    Rule(
        test=_t("Analysis/TestMultipleAnalysis"),
        category=Category.INTERNET,
        reason="its web metrics query https://api.github.com",
        justification="The four web metrics of template-a/template-b resolve to https://api.github.com/repos/argoproj/"
        "argo-rollouts; the Rollout only becomes Healthy when they succeed.",
    ),
    Rule(
        test=_t("Analysis/TestAnalysisWithSecret"),
        category=Category.INTERNET,
        reason="its web metric's URL (from a Secret) is https://gist.githubusercontent.com",
        justification="functional/rollout-secret.yaml: the secret-url arg comes from example-secret's secretUrl, which "
        "decodes to a gist on gist.githubusercontent.com; the metric's successCondition needs its JSON ('It worked!').",
    ),
    Rule(
        test=_t("Analysis/TestAnalysisWithArgs"),
        category=Category.INTERNET,
        reason="its web metric's URL (from a Secret) is https://gist.githubusercontent.com",
        justification="functional/rollout-secret-withArgs.yaml: the example-secret gist URL of TestAnalysisWithSecret, "
        "passed through the Rollout's analysis args; the step's run needs its JSON to succeed.",
    ),
    Rule(
        test=_t("Analysis/TestCanaryInconclusiveBackgroundAnalysis"),
        category=Category.INTERNET,
        reason="its web metric queries https://dns.google",
        justification="analysistemplate-web-background-inconclusive.yaml measures "
        "https://dns.google/resolve?name=google.com and expects an Inconclusive result from its answer.",
    ),
)


_EXPERIMENT_TESTS = (
    "Experiment/TestExperimentWithDryRunMetrics",
    "Experiment/TestExperimentWithMeasurementRetentionMetrics",
    "Experiment/TestExperimentWithMultiportServiceAndScaleDownDelay",
    "Experiment/TestExperimentWithServiceAndScaleDownDelay",
    "Experiment/TestExperimentWithServiceNameAndScaleDownDelay",
    "Experiment/TestRolloutWithExperimentAndAnalysis",
    "Istio/TestIstioHostSplitExperimentStep",
    "Istio/TestIstioSubsetSplitExperimentStep",
)
RULES += tuple(
    Rule(
        test=_t(name),
        category=Category.DEFERRED,
        reason="uses Experiments (the Experiment kind or an experiment step), not served yet (issue 14)",
        justification="Issue 10 says tests that use Experiments join the applicable set when Experiments exist; "
        "this controller refuses Experiments (and experiment steps) with InvalidSpec until the statistical-judge "
        "issue adds them, so these tests cannot pass yet whatever else is right.",
    )
    for name in _EXPERIMENT_TESTS
)


def _rules_for(test: TestId) -> list[Rule]:
    return [rule for rule in RULES if rule.test == test]


def not_run(tests: Iterable[TestId]) -> dict[TestId, Rule]:
    """The tests among ``tests`` that are not run at all (not applicable by definition), with their rule."""
    found: dict[TestId, Rule] = {}
    for test in tests:
        for rule in _rules_for(test):
            if rule.evidence is None:
                found[test] = rule
    return found


def environmental_failure(test: TestId, output: str) -> Rule | None:
    """The rule explaining this failure of ``test`` by the environment, when its evidence is in ``output``."""
    for rule in _rules_for(test):
        if rule.evidence is not None and re.search(rule.evidence, output, re.MULTILINE):
            return rule
    return None


def listed_environmental(test: TestId) -> Rule | None:
    """The environmental rule of ``test`` regardless of its evidence (to flag a stale entry when it passes)."""
    for rule in _rules_for(test):
        if rule.evidence is not None:
            return rule
    return None
