"""The local CLI logic (exit codes 0/1/2/3/4, --prometheus override, refusals) and backtests over history loaded
into a real Prometheus with promtool: known values at known instants give a known timeline and failure rate."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analysis.assess import AnalysisPhase
from analysis.backtest import backtest, backtest_file
from analysis.local import load_template_file, run_analysis_file
from tests.support.prometheus import PrometheusServer, Series

TEMPLATE = """\
apiVersion: {api}
kind: AnalysisTemplate
metadata: {{name: success-rate}}
spec:
  args:
    - name: case
  metrics:
    - name: success-rate
      count: 2
      interval: 200ms
      successCondition: result[0] >= 0.95
      failureCondition: result[0] < 0.6
      consecutiveErrorLimit: 0
      provider:
        prometheus:
          address: http://prometheus.invalid:9090
          query: {query}
"""


def write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("case", "query", "code"),
    [
        ("ok", "'canary_success_rate{case=\"{{args.case}}\"}'", 0),
        ("bad", "'canary_success_rate{case=\"{{args.case}}\"}'", 1),
        ("meh", "'canary_success_rate{case=\"{{args.case}}\"}'", 2),
        ("ok", "'sum(rate('", 3),
    ],
)
def test_exit_codes_follow_the_run_phase(rates: str, tmp_path: Path, case: str, query: str, code: int) -> None:
    path = write(tmp_path, TEMPLATE.format(api="argoproj.io/v1alpha1", query=query))  # Argo's apiVersion: accepted
    out = io.StringIO()
    assert run_analysis_file(path, args={"case": case}, prometheus=rates, out=out) == code, out.getvalue()
    text = out.getvalue()
    assert "success-rate #1" in text  # measurements are printed as they happen


def test_invalid_input_exits_4_with_field_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
apiVersion: rollouts.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  args:
    - name: token
      valueFrom: {secretKeyRef: {name: prom-auth, key: token}}
  metrics:
    - name: smoke
      provider:
        job: {spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}}
    - name: rate
      provider:
        prometheus: {query: 'up{t="{{args.token}}"}'}
""",
    )
    out = io.StringIO()
    assert run_analysis_file(path, args={}, prometheus=None, out=out) == 4
    text = out.getvalue()
    assert "pass its value with --arg token=VALUE" in text
    out = io.StringIO()
    assert run_analysis_file(path, args={"token": "x"}, prometheus=None, out=out) == 4
    text = out.getvalue()
    assert "spec.metrics[0].provider.job" in text
    assert "need a cluster" in text
    assert "spec.metrics[1].provider.prometheus.address" in text


def test_an_undeclared_arg_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, TEMPLATE.format(api="rollouts.dev/v1alpha1", query="up"))
    out = io.StringIO()
    assert run_analysis_file(path, args={"case": "ok", "cass": "x"}, prometheus="http://127.0.0.1:1", out=out) == 4
    assert "declares no arg 'cass'" in out.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Backtests

FAILING_MINUTES = (5, 17, 40)


def history(base: datetime) -> list[Series]:
    rate = [(base + timedelta(minutes=i), 0.5 if i in FAILING_MINUTES else 0.99) for i in range(48)]
    latency = [(base + timedelta(minutes=i), 0.2) for i in range(48)]
    return [Series("bt_success_rate", {"version": "v2"}, rate), Series("bt_latency_seconds", {}, latency)]


BACKTEST_TEMPLATE = """\
apiVersion: rollouts.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: gates}
spec:
  args: [{name: version}]
  dryRun: [{metricName: latency}]
  metrics:
    - name: success-rate
      interval: 1m
      successCondition: result[0] >= 0.95
      provider:
        prometheus: {query: 'bt_success_rate{version="{{args.version}}"}'}
    - name: latency
      successCondition: result[0] < 0.1
      provider:
        prometheus: {query: bt_latency_seconds}
    - name: smoke
      provider:
        web: {url: 'http://127.0.0.1:1/health'}
"""


def test_backtest_replays_history_into_a_timeline_and_failure_rate(
    tmp_path: Path, history_prometheus: type[PrometheusServer]
) -> None:
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)
    path = write(tmp_path, BACKTEST_TEMPLATE)
    with history_prometheus.with_history(tmp_path / "history", history(base)) as server:
        report = backtest(
            load_template_file(path),
            args={"version": "v2"},
            prometheus=server.url,
            start=base,
            end=base + timedelta(minutes=47),
            every=timedelta(minutes=1),
        )
        out = io.StringIO()
        code = backtest_file(
            path,
            args={"version": "v2"},
            prometheus=server.url,
            start=base.isoformat().replace("+00:00", "Z"),
            end=(base + timedelta(minutes=47)).isoformat(),
            every="1m",
            out=out,
        )
    failed_at = [row.at for row in report.instants if row.phase is AnalysisPhase.FAILED]
    assert failed_at == [base + timedelta(minutes=i) for i in FAILING_MINUTES]
    assert report.summary() == "would have failed 3 of 48 instants (6.2%)"
    # the dry-run latency metric fails everywhere but decides nothing; the web metric is listed as skipped
    assert all(row.metrics["latency"].phase is AnalysisPhase.FAILED for row in report.instants)
    assert report.instants[5].metrics["success-rate"].value == "[0.5]"
    assert set(report.skipped) == {"smoke"}
    assert code == 1
    text = out.getvalue()
    assert "would have failed 3 of 48 instants (6.2%)" in text
    assert "skipped smoke" in text
