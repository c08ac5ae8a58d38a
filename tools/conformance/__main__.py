"""``python -m tools.conformance``: run Argo Rollouts' e2e suite against Argo's controller and/or ours.

Exit status: 0 when no selected test failed, 1 when some did, 2 when the harness itself could not run (no Go, the
peer build or the cluster failed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from tools.conformance import replay, report
from tools.conformance.catalog import CI_SUBSET, DEFAULT_SUITES, SUITES, Suite, suite_named
from tools.conformance.controllers import CONTROLLERS
from tools.conformance.environment import EnvironmentError as ClusterSetupError
from tools.conformance.peer import PeerError, ensure_peer
from tools.conformance.results import Measurement, Outcome
from tools.conformance.runner import Options, measure

_REPO = Path(__file__).resolve().parents[2]


def _against(text: str) -> tuple[str, ...]:
    if text == "both":
        return CONTROLLERS
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in CONTROLLERS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected {', '.join(CONTROLLERS)}, both, or a comma-separated list")
    return names


def _suites(names: list[str] | None) -> tuple[Suite, ...]:
    if not names:
        return tuple(suite_named(name) for name in DEFAULT_SUITES)
    if [name.lower() for name in names] == ["all"]:
        return SUITES  # kept for the command lines written when Experiment was opt-in
    chosen = {suite_named(name).name for name in names}
    return tuple(suite for suite in SUITES if suite.name in chosen)  # always in run order


def _default_work_dir() -> Path:
    cache = Path(
        os.environ.get("ROLLOUTS_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rollouts"
    )
    return cache / "conformance" / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _commit() -> str:
    result = subprocess.run(  # noqa: S603 -- a fixed git command
        ["git", "-C", str(_REPO), "rev-parse", "--short", "HEAD"],  # noqa: S607 -- git from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown commit"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.conformance",
        description="Run Argo Rollouts' own e2e suite against a controller on a fresh local cluster.",
    )
    parser.add_argument(
        "--against", type=_against, default=("argo",), help="argo, ours or both (each on a fresh cluster; default argo)"
    )
    parser.add_argument(
        "--suite",
        nargs="+",
        action="extend",
        metavar="S",
        help=f"suites to run (default: all of {' '.join(DEFAULT_SUITES)})",
    )
    parser.add_argument("--run", metavar="REGEX", help="only tests whose Suite/TestName matches (searched)")
    parser.add_argument("--subset", choices=["ci"], help="the fixed CI subset (tests that pass against Argo today)")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write the results into FILE (docs/conformance.md)")
    parser.add_argument(
        "--test-timeout", type=float, default=600.0, metavar="S", help="per-test bound, seconds (default 600)"
    )
    parser.add_argument(
        "--timeout", type=float, default=4 * 3600.0, metavar="S", help="bound of each controller's run (default 4 h)"
    )
    parser.add_argument(
        "--reruns",
        type=int,
        default=2,
        metavar="N",
        help="run a failed test again up to N times; passing then, it passes as flaky (default 2; Argo's CI: 5)",
    )
    parser.add_argument(
        "--wait-timeout", type=int, default=90, metavar="S", help="E2E_WAIT_TIMEOUT: each wait of the suite (90)"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="logs and cluster state (default ~/.cache/rollouts/conformance/<time>)"
    )
    parser.add_argument(
        "--argo-rbac",
        action="store_true",
        help="run the controller as a ServiceAccount bound to Argo's ClusterRole (default: the cluster admin)",
    )
    parser.add_argument("--no-build", action="store_true", help="fail instead of building Argo Rollouts when missing")
    parser.add_argument(
        "--rejudge",
        type=Path,
        metavar="DIR",
        help="run nothing: judge the run in DIR (its --work-dir) again with the current applicability table",
    )
    return parser


def _rejudged(work_dir: Path) -> list[Measurement]:
    """The measurements of the run in ``work_dir`` (one directory per controller), judged again."""
    directories = [work_dir] if (work_dir / "results.json").exists() else sorted(work_dir.iterdir())
    found = [directory for directory in directories if (directory / "results.json").exists()]
    if not found:
        raise ValueError(f"no results.json in {work_dir} or its directories")
    return [replay.load(directory) for directory in found]


def _print_summary(measurement: Measurement) -> None:
    minutes = measurement.seconds / 60
    print(f"{measurement.controller}: {measurement.summary()} in {minutes:.1f} min")
    if measurement.note:
        print(f"  note: {measurement.note}")
    for result in measurement.results:
        if result.outcome is Outcome.FAILED:
            print(f"  FAILED {result.test}: {result.reason}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        suites = _suites(args.suite)
        run = re.compile(args.run) if args.run else None
    except (ValueError, re.error) as error:
        print(f"conformance: {error}", file=sys.stderr)
        return 2
    if args.rejudge:
        try:
            return _finish(_rejudged(args.rejudge), report_path=args.report, files=args.rejudge)
        except (OSError, ValueError, KeyError) as error:
            print(f"conformance: cannot judge {args.rejudge} again: {error}", file=sys.stderr)
            return 2
    options = Options(
        suites=suites,
        run=run,
        subset=CI_SUBSET if args.subset == "ci" else None,
        work_dir=args.work_dir or _default_work_dir(),
        test_timeout=args.test_timeout,
        run_timeout=args.timeout,
        wait_timeout=args.wait_timeout,
        reruns=args.reruns,
        admin=not args.argo_rbac,
    )
    try:
        peer = ensure_peer(build=not args.no_build)
    except PeerError as error:
        print(f"conformance: {error}", file=sys.stderr)
        return 2
    commit = _commit()
    measurements: list[Measurement] = []
    for controller in args.against:
        describe = (lambda text: f"{text} at {commit}") if controller == "ours" else None
        try:
            measurements.append(measure(controller, peer, options, describe=describe))
        except (ClusterSetupError, ValueError) as error:
            print(f"conformance: {controller}: {error}", file=sys.stderr)
            return 2
    return _finish(measurements, report_path=args.report, files=options.work_dir)


def _finish(measurements: list[Measurement], *, report_path: Path | None, files: Path) -> int:
    for measurement in measurements:
        _print_summary(measurement)
    if report_path:
        existing = report_path.read_text() if report_path.exists() else ""
        report_path.write_text(report.update_document(existing, measurements))
        print(f"report: {report_path}")
    print(f"files: {files}")
    failed = any(r.outcome is Outcome.FAILED for m in measurements for r in m.results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
