"""The ``rollouts`` command and the ``kubectl-rollouts`` plugin entry point.

The CLI is a thin layer: it parses arguments, calls one function of the package that owns the behaviour, and maps
the outcome to an exit code. Heavy imports (kubernetes, kopf) happen inside the subcommand that needs them, so
``rollouts --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

__all__ = ["kubectl_main", "main"]


def _cluster_up(args: argparse.Namespace) -> int:
    from rollouts.devcluster import ClusterError, LocalCluster

    cluster = LocalCluster(state_dir=args.state_dir, nodes=args.nodes)
    try:
        info = cluster.start(tie_to_parent=False, timeout=args.timeout)
    except ClusterError as error:
        print(f"rollouts cluster up: {error}", file=sys.stderr)
        return 1
    print(f"cluster ready in {info.start_seconds:.1f}s: {info.server}, nodes: {', '.join(info.nodes)}")
    print(f"logs: {info.state_dir / 'logs'}")
    print(f"export KUBECONFIG={info.kubeconfig}")
    print(f"export PATH={info.bin_dir}:$PATH    # kubectl {info.bin_dir / 'kubectl'}")
    return 0


def _cluster_down(args: argparse.Namespace) -> int:
    from rollouts.devcluster import LocalCluster

    cluster = LocalCluster(state_dir=args.state_dir)
    was_running = cluster.running()
    cluster.stop()
    print("cluster stopped" if was_running else "no cluster was running (cleaned up any leftovers)")
    return 0


def _cluster_env(args: argparse.Namespace) -> int:
    from rollouts.devcluster import LocalCluster

    cluster = LocalCluster(state_dir=args.state_dir)
    state = cluster.read_state()
    if not state or not cluster.running():
        print("no local cluster is running; start one with `rollouts cluster up`", file=sys.stderr)
        return 1
    for name in cluster.stopped_components():
        log = cluster.state_dir / "logs" / f"{name}.log"
        print(
            f"warning: {name} is no longer running (its log: {log}); "
            "`rollouts cluster down` then `up` restarts the cluster",
            file=sys.stderr,
        )
    print(f"export KUBECONFIG={state['kubeconfig']}")
    print(f"export PATH={state['bin_dir']}:$PATH")
    return 0


def _controller(args: argparse.Namespace) -> int:
    from rollouts.controller import ControllerConfig, Election, run_controller
    from workflows.api import api_mode

    mode = api_mode(_api_group(args))
    config = ControllerConfig(
        mode=mode,
        instance_id=args.instance_id,
        metrics_port=args.metrics_port,
        healthz_port=args.healthz_port,
        namespaces=tuple(args.namespace or ()),
        qps=args.qps,
        burst=args.burst,
        reconcile_threads=args.workers,
        notifications_namespace=args.notifications_namespace,
        web_metric_allowed_hosts=tuple(args.web_metric_allowed_hosts or ()),
    )
    election = None
    if args.leader_elect:
        if (
            not 0
            < args.leader_election_retry_period
            < args.leader_election_renew_deadline
            < (args.leader_election_lease_duration)
        ):
            args.controller_parser.error(
                "leader election needs --leader-election-retry-period < --leader-election-renew-deadline < "
                "--leader-election-lease-duration"
            )
        # One Lease per controller that may run beside another: instances and API groups are separate controllers.
        default_name = "rollouts-controller" + (f"-{args.instance_id}" if args.instance_id else "")
        default_name += "-argoproj" if mode.api_version.startswith("argoproj.io/") else ""
        election = Election(
            lease_name=args.lease_name or default_name,
            lease_namespace=args.lease_namespace,
            identity=args.leader_election_identity,
            lease_duration=args.leader_election_lease_duration,
            renew_deadline=args.leader_election_renew_deadline,
            retry_period=args.leader_election_retry_period,
        )
    return run_controller(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespaces=args.namespace,
        verbose=args.verbose,
        log_format=args.log_format,
        config=config,
        election=election,
    )


def _workflow_run(args: argparse.Namespace) -> int:
    from workflows.runtime.local import run_workflow_file

    params = dict(_key_value(item, "-p") for item in args.parameter)
    return run_workflow_file(args.file, params, out=sys.stdout, resume_all=args.resume_all)


def _analysis_run(args: argparse.Namespace) -> int:
    from analysis.local import run_analysis_file

    values = dict(_key_value(item, "--arg") for item in args.arg)
    return run_analysis_file(args.file, args=values, prometheus=args.prometheus, out=sys.stdout)


def _analysis_backtest(args: argparse.Namespace) -> int:
    from analysis.backtest import backtest_file

    values = dict(_key_value(item, "--arg") for item in args.arg)
    return backtest_file(
        args.file,
        args=values,
        prometheus=args.prometheus,
        start=args.start,
        end=args.end,
        every=args.every,
        out=sys.stdout,
    )


def _workflow_resume(args: argparse.Namespace) -> int:
    from rollouts.commands import CommandError
    from rollouts.commands.workflows import request_resume

    nodes = args.node or ["*"]
    try:
        namespace = request_resume(
            args.name, nodes=nodes, namespace=args.namespace, kubeconfig=args.kubeconfig, context=args.context
        )
    except CommandError as error:
        print(f"rollouts workflow resume: {error}", file=sys.stderr)
        return 1
    print(f"workflow {namespace}/{args.name}: resume requested for {', '.join(nodes)}")
    return 0


def _install(args: argparse.Namespace) -> int:
    from rollouts.kube.install import install, render_manifests
    from workflows.api import api_mode
    from workflows.runtime.kube import Kube

    if args.print:
        sys.stdout.write(render_manifests(rbac=not args.crds_only, mode=api_mode(_api_group(args))))
        return 0
    kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    try:
        applied = install(kube, rbac=not args.crds_only, mode=api_mode(_api_group(args)))
    finally:
        kube.close()
    for item in applied:
        where = f" -n {item.namespace}" if item.namespace else ""
        print(f"applied {item.kind} {item.name}{where}")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from rollouts.commands.lint import lint_paths

    files = [*args.filename, *args.files]
    if not files:
        args.lint_parser.error("name the manifests: -f FILE or FILE... (- reads stdin)")
    return lint_paths(files, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)


def _add_lint(commands: Any, *parents: argparse.ArgumentParser) -> None:
    """``lint`` of both CLIs (``rollouts lint``, ``kubectl rollouts lint``): Argo's ``-f FILE``, or FILE... ."""
    lint = commands.add_parser(
        "lint",
        help="check manifests offline against what rollouts.dev implements (rollouts.dev or argoproj.io); "
        "exit 1 on any problem",
        description="Check Rollouts, AnalysisTemplates, AnalysisRuns, Workflows and WorkflowTemplates (under "
        "rollouts.dev/v1alpha1 or argoproj.io/v1alpha1) against our CRDs' schemas and the controller's own parsers. "
        "Prints every problem as FILE#N: Kind/name: path: message (N: the document's index in its file, from 1), "
        "nothing when all is well. No cluster needed.",
        parents=list(parents),
    )
    lint.add_argument(
        "-f", "--filename", action="append", default=[], metavar="FILE", help="a manifest file (repeatable)"
    )
    lint.add_argument("files", nargs="*", default=[], metavar="FILE", help="YAML or JSON, multi-document; - for stdin")
    lint.set_defaults(handler=_lint, lint_parser=lint)


def _key_value(item: str, flag: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise SystemExit(f"{flag} expects name=value, got {item!r}")
    return key, value


def _add_api_group_flag(parser: argparse.ArgumentParser, **extra: Any) -> None:
    parser.add_argument(
        "--api-group",
        choices=("rollouts.dev", "argoproj.io"),
        help="the group Rollouts are served under: ours, or Argo Rollouts' in drop-in mode "
        "(default: $ROLLOUTS_API_GROUP, else rollouts.dev)",
        **extra,
    )


def _api_group(args: argparse.Namespace) -> str:
    return str(getattr(args, "api_group", None) or os.environ.get("ROLLOUTS_API_GROUP") or "rollouts.dev")


def _add_kube_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", help="the kubeconfig context to use")


def _positive(kind: type[float] | type[int]) -> Any:
    """An argparse type: a number above zero, or a usage error naming the value (never a traceback at start-up)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0 (got {text})")
        return value

    return parse


def _add_controller(commands: Any) -> None:
    controller = commands.add_parser("controller", help="run the operator against the current kubeconfig")
    _add_kube_flags(controller)
    controller.add_argument(
        "-n", "--namespace", action="append", default=[], help="watch only this namespace (repeatable)"
    )
    controller.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    controller.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text, or as one JSON object per line with time, level, logger, message and the object's "
        "fields (namespace, rollout, step, analysisrun); kopf's lines too",
    )
    _add_api_group_flag(controller)
    controller.add_argument(
        "--instance-id",
        default="",
        help="serve only objects labelled argo-rollouts.argoproj.io/controller-instance-id=ID "
        "(default: only objects without that label), as Argo's --instance-id",
    )
    controller.add_argument(
        "--metrics-port", type=int, default=8090, help="serve Prometheus metrics on this port (0: off; Argo's default)"
    )
    controller.add_argument(
        "--healthz-port",
        type=int,
        default=8080,
        help="serve /healthz and /readyz for the kubelet's probes on this port (0: off; Argo's default 8080)",
    )
    controller.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run only while holding a coordination.k8s.io Lease, so replicas can stand by (default on; "
        "--no-leader-elect for a single process)",
    )
    controller.add_argument(
        "--lease-name",
        default="",
        help="the Lease (default rollouts-controller, plus -ID with --instance-id, plus -argoproj in drop-in mode)",
    )
    controller.add_argument(
        "--lease-namespace",
        default="",
        help="the Lease's namespace (default: $POD_NAMESPACE, else the kubeconfig context's namespace)",
    )
    controller.add_argument(
        "--leader-election-identity",
        default="",
        help="this replica's name in the Lease (default: $POD_NAME, else the host name)",
    )
    controller.add_argument(
        "--leader-election-lease-duration",
        type=_positive(float),
        default=15.0,
        help="seconds a standing-by replica waits for an unrenewed Lease before taking it (Argo's default 15)",
    )
    controller.add_argument(
        "--leader-election-renew-deadline",
        type=_positive(float),
        default=10.0,
        help="seconds the leader keeps trying to renew before it stops acting (Argo's default 10)",
    )
    controller.add_argument(
        "--leader-election-retry-period",
        type=_positive(float),
        default=2.0,
        help="seconds between tries to take or renew the Lease (Argo's default 2)",
    )
    controller.add_argument(
        "--notifications-namespace",
        default="",
        help="where the notifications ConfigMap and Secret are (default: $POD_NAMESPACE, else the kubeconfig "
        "context's namespace: the controller's own, as Argo reads them)",
    )
    controller.add_argument(
        "--web-metric-allowed-hosts",
        action="append",
        metavar="PATTERNS",
        help="glob patterns of the hosts web metrics and http workflow steps may reach, comma-separated or "
        "repeated (e.g. '*.monitoring.svc.cluster.local,metrics.example.com'); default: any host, as Argo "
        "(docs/security.md)",
    )
    controller.add_argument(
        "--qps",
        type=_positive(float),
        default=40.0,
        help="API requests per second the controller may make, per API group as client-go counts (Argo's default: 40)",
    )
    controller.add_argument(
        "--burst",
        type=_positive(int),
        default=80,
        help="API requests allowed at once above --qps, per API group (Argo's: 80)",
    )
    controller.add_argument(
        "--workers",
        type=_positive(int),
        default=8,
        help="Rollouts reconciled at once (Argo's --rollout-threads; default 8)",
    )
    controller.set_defaults(handler=_controller, controller_parser=controller)


def _build_parser() -> argparse.ArgumentParser:
    from rollouts.devcluster import default_state_dir

    parser = argparse.ArgumentParser(prog="rollouts", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rollouts')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cluster = commands.add_parser("cluster", help="a container-less local Kubernetes cluster (etcd, API server, KWOK)")
    cluster.add_argument(
        "--state-dir", type=Path, default=default_state_dir(), help="where certificates, data and logs live"
    )
    cluster_commands = cluster.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    up = cluster_commands.add_parser("up", help="build (once) and start the cluster in the background")
    up.add_argument("--nodes", type=int, default=1, help="number of fake KWOK nodes (default 1)")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    up.set_defaults(handler=_cluster_up)
    cluster_commands.add_parser("down", help="stop the cluster and every process it started").set_defaults(
        handler=_cluster_down
    )
    cluster_commands.add_parser("env", help="print the shell exports to use the cluster").set_defaults(
        handler=_cluster_env
    )

    _add_controller(commands)

    install = commands.add_parser("install", help="apply the CRDs and the controller's RBAC to the current cluster")
    _add_kube_flags(install)
    install.add_argument("--crds-only", action="store_true", help="apply only the CRDs")
    install.add_argument(
        "--print",
        action="store_true",
        help="write the manifests as one YAML stream to stdout instead of applying them (GitOps); no cluster needed",
    )
    _add_api_group_flag(install)
    install.set_defaults(handler=_install)

    _add_lint(commands)

    workflow = commands.add_parser("workflow", help="Workflows (Argo-style DAGs)")
    workflow_commands = workflow.add_subparsers(dest="workflow_command", required=True, metavar="ACTION")
    run = workflow_commands.add_parser("run", help="run a Workflow file locally (http/suspend steps need no cluster)")
    run.add_argument("file", type=Path)
    run.add_argument("-p", "--parameter", action="append", default=[], help="name=value (repeatable)")
    run.add_argument("--resume-all", action="store_true", help="resume suspend steps at once instead of waiting")
    run.set_defaults(handler=_workflow_run)
    resume = workflow_commands.add_parser("resume", help="resume suspended steps of a Workflow in the cluster")
    resume.add_argument("name")
    resume.add_argument("--node", action="append", default=[], help="resume only this node (repeatable; default all)")
    resume.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    _add_kube_flags(resume)
    resume.set_defaults(handler=_workflow_resume)

    analysis = commands.add_parser("analysis", help="AnalysisTemplates: run locally, or backtest against history")
    analysis_commands = analysis.add_subparsers(dest="analysis_command", required=True, metavar="ACTION")
    arun = analysis_commands.add_parser(
        "run",
        help="run an AnalysisTemplate locally (prometheus/web metrics); exit 0 ok, 1 failed, 2 inconclusive, 3 error",
    )
    backtest = analysis_commands.add_parser(
        "backtest", help="evaluate a template's Prometheus metrics at past instants and print the verdict timeline"
    )
    for sub in (arun, backtest):
        sub.add_argument("file", type=Path)
        sub.add_argument("--arg", action="append", default=[], help="name=value for the template's args (repeatable)")
        sub.add_argument("--prometheus", help="use this Prometheus URL for every prometheus metric")
    backtest.add_argument("--from", dest="start", required=True, help="RFC3339 instant, or relative like -6h")
    backtest.add_argument("--to", dest="end", default="now", help="RFC3339 instant, relative, or now (default)")
    backtest.add_argument("--every", default="5m", help="step between instants (default 5m)")
    arun.set_defaults(handler=_analysis_run)
    backtest.set_defaults(handler=_analysis_backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rollouts`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


# -- kubectl rollouts -------------------------------------------------------------------------------------------------
# The plugin accepts the command forms of Argo's ``kubectl argo rollouts`` verbatim (docs/kubectl-plugin.md), plus our
# older short forms (``get NAME``, ``retry NAME``). Each command has its own ``_add_*`` function and handler.

_ROLLOUT_ALIASES = ("ro", "rollouts")
_EXPERIMENT_ALIASES = ("exp", "experiments")
_NO_EXPERIMENTS = "experiments are not supported yet (this controller has no Experiment kind)"


def _rollout_client(args: argparse.Namespace) -> Any:
    from rollouts.commands.rollouts import RolloutClient
    from workflows.api import api_mode
    from workflows.runtime.kube import Kube

    kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    return RolloutClient(kube=kube, namespace=args.namespace or kube.namespace, mode=api_mode(_api_group(args)))


def _analysis_run_client(args: argparse.Namespace) -> Any:
    from rollouts.commands.analysisruns import AnalysisRunClient
    from workflows.api import api_mode
    from workflows.runtime.kube import Kube

    kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    return AnalysisRunClient(kube=kube, namespace=args.namespace or kube.namespace, mode=api_mode(_api_group(args)))


def _fail(command: str, message: object) -> int:
    print(f"kubectl rollouts {command}: {message}", file=sys.stderr)
    return 1


def _each_rollout(args: argparse.Namespace, command: str, act: Any) -> int:
    """Run ``act(client, name)`` for every name given (Argo's abort/pause/retry take several), printing each line."""
    from rollouts.commands import CommandError

    rollouts = _rollout_client(args)
    try:
        for name in args.names:
            print(act(rollouts, name))
    except CommandError as error:
        return _fail(command, error)
    finally:
        rollouts.kube.close()
    return 0


def _rollout_command(args: argparse.Namespace) -> int:
    """promote, undo, set image: one Rollout, one patch (or two)."""
    from rollouts.commands import CommandError

    rollouts = _rollout_client(args)
    try:
        match args.command:
            case "promote":
                message = rollouts.promote(args.name, full=args.full)
            case "undo":
                message = rollouts.undo(args.name, to_revision=args.to_revision or None)
            case "set":
                container, sep, image = args.assignment.partition("=")
                if not sep or not container or not image or "=" in image:
                    print("kubectl rollouts set image: expected CONTAINER=IMAGE", file=sys.stderr)
                    return 2
                message = rollouts.set_image(args.name, container, image)
            case _:
                raise AssertionError(args.command)
    except CommandError as error:
        return _fail(args.command, error)
    finally:
        rollouts.kube.close()
    print(message)
    return 0


def _rollout_restart(args: argparse.Namespace) -> int:
    import datetime as dt

    from rollouts.commands import CommandError

    rollouts = _rollout_client(args)
    try:
        print(rollouts.restart(args.name, now=dt.datetime.now(dt.UTC), delay=args.delay))
    except CommandError as error:
        return _fail("restart", error)
    finally:
        rollouts.kube.close()
    return 0


def _rollout_get(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    from rollouts.commands import CommandError
    from rollouts.commands.view import read_view, render_rollout

    rollouts = _rollout_client(args)
    console = Console(no_color=args.no_color or None)
    deadline = time.monotonic() + args.timeout_seconds if args.timeout_seconds else None
    try:
        if not args.watch:
            console.print(render_rollout(read_view(rollouts, args.name)))
            return 0
        with Live(render_rollout(read_view(rollouts, args.name)), console=console, refresh_per_second=4) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1)
                live.update(render_rollout(read_view(rollouts, args.name)))
    except CommandError as error:
        return _fail("get", error)
    except KeyboardInterrupt:
        return 0
    finally:
        rollouts.kube.close()
    return 0


def _rollout_list(args: argparse.Namespace) -> int:
    from rollouts.commands import CommandError
    from rollouts.commands.listing import format_rollout_table, rollout_row

    rollouts = _rollout_client(args)
    try:
        items = rollouts.list_rollouts(all_namespaces=args.all_namespaces, name=args.only_name)
        if not items and not args.watch:
            print("No resources found.", file=sys.stderr)
            return 0
        table = format_rollout_table(items, all_namespaces=args.all_namespaces)
        print(table, end="", flush=True)
        if args.watch:
            # Argo prints a line again whenever a Rollout's row changes; a 1 s poll gives the same lines.
            seen = {(r.namespace, r.name): r for r in map(rollout_row, items)}
            while True:
                time.sleep(1)
                for item in rollouts.list_rollouts(all_namespaces=args.all_namespaces, name=args.only_name):
                    row = rollout_row(item)
                    if seen.get((row.namespace, row.name)) != row:
                        seen[(row.namespace, row.name)] = row
                        print("  ".join(row.cells(all_namespaces=args.all_namespaces)), flush=True)
    except CommandError as error:
        return _fail("list", error)
    except KeyboardInterrupt:
        return 0
    finally:
        rollouts.kube.close()
    return 0


def _rollout_status(args: argparse.Namespace) -> int:
    from rollouts.commands import CommandError
    from rollouts.commands.status import rollout_phase, status_line, status_verdict, watch_status

    rollouts = _rollout_client(args)
    try:
        if args.watch:
            phase, message = watch_status(
                lambda: rollouts.get(args.name), timeout=args.timeout, report=lambda line: print(line, flush=True)
            )
        else:
            phase, message = rollout_phase(rollouts.get(args.name))
            print(status_line(phase, message, watching=False))
    except CommandError as error:
        return _fail("status", error)
    except KeyboardInterrupt:
        return 1
    finally:
        rollouts.kube.close()
    verdict = status_verdict(phase, message, watched=args.watch)
    if verdict.error:
        print(f"Error: {verdict.error}", file=sys.stderr)
    return verdict.code


def _experiments_unsupported(args: argparse.Namespace) -> int:
    return _fail(args.command, _NO_EXPERIMENTS)


def _analysisrun_create(args: argparse.Namespace) -> int:
    from rollouts.commands import CommandError
    from rollouts.commands.analysisruns import analysis_run_from_template, parse_arguments, read_template_file

    if (args.from_template is None) == (args.from_file is None):
        return _fail("create analysisrun", "one of --from or --from-file must be specified")
    runs = _analysis_run_client(args)
    try:
        if args.from_file is not None:
            template = read_template_file(args.from_file)
        else:
            template = runs.read_template(args.from_template, cluster=args.cluster_template)
        run = analysis_run_from_template(
            template,
            args=parse_arguments(args.argument),
            name=args.run_name,
            generate_name=args.generate_name,
            namespace=runs.namespace,
            mode=runs.mode,
            instance_id=args.instance_id,
        )
        print(runs.create(run))
    except CommandError as error:
        return _fail("create analysisrun", error)
    finally:
        runs.kube.close()
    return 0


def _analysisrun_terminate(args: argparse.Namespace) -> int:
    from rollouts.commands import CommandError

    runs = _analysis_run_client(args)
    try:
        for name in args.names:
            print(runs.terminate(name))
    except CommandError as error:
        return _fail("terminate analysisrun", error)
    finally:
        runs.kube.close()
    return 0


def _plugin_version(args: argparse.Namespace) -> int:
    import platform

    print(f"kubectl-rollouts: v{version('rollouts')}")
    if not args.short:
        print(f"  Python: {platform.python_version()}")
        print(f"  Platform: {platform.system().lower()}/{platform.machine()}")
        from workflows.api import ARGO, ROLLOUTS_DEV

        print(f"  API groups: {ROLLOUTS_DEV.api_version}, {ARGO.api_version} (--api-group)")
    return 0


def _completion(args: argparse.Namespace) -> int:
    from rollouts.commands.completion import completion_script

    print(completion_script(_kubectl_parser(), args.shell, command="kubectl-rollouts"), end="")
    return 0


def _go_duration(text: str) -> Any:
    """A duration flag as Go spells it (``90s``, ``5m``, ``1h30m``; a plain number is seconds), as a timedelta."""
    from workflows.errors import DurationError
    from workflows.model.durations import parse_duration

    try:
        return parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_get(commands: Any, common: argparse.ArgumentParser) -> None:
    get = commands.add_parser(
        "get",
        help="show a Rollout: steps, ReplicaSets, analysis (get rollout NAME; get NAME works too)",
        parents=[common],
    )
    kinds = get.add_subparsers(dest="kind", required=True, metavar="KIND")
    rollout = kinds.add_parser("rollout", aliases=list(_ROLLOUT_ALIASES), help="a Rollout", parents=[common])
    rollout.add_argument("name", help="the Rollout")
    rollout.add_argument("-w", "--watch", action="store_true", help="keep refreshing")
    rollout.add_argument("--no-color", action="store_true", help="do not colorize output")
    rollout.add_argument("--timeout-seconds", type=int, default=0, help="stop watching after this many seconds")
    rollout.set_defaults(handler=_rollout_get)
    experiment = kinds.add_parser(
        "experiment", aliases=list(_EXPERIMENT_ALIASES), help="(not supported yet)", parents=[common]
    )
    experiment.add_argument("name")
    # Argo's flags, accepted so that the refusal says why rather than a usage error.
    experiment.add_argument("-w", "--watch", action="store_true", help=argparse.SUPPRESS)
    experiment.add_argument("--no-color", action="store_true", help=argparse.SUPPRESS)
    experiment.set_defaults(handler=_experiments_unsupported)


def _add_list(commands: Any, common: argparse.ArgumentParser) -> None:
    listing = commands.add_parser("list", help="list Rollouts (list rollouts [-A])", parents=[common])
    kinds = listing.add_subparsers(dest="kind", required=True, metavar="KIND")
    rollouts = kinds.add_parser("rollouts", aliases=["ro", "rollout"], help="Rollouts, one per line", parents=[common])
    rollouts.add_argument("-A", "--all-namespaces", action="store_true", help="include all namespaces")
    rollouts.add_argument("--name", dest="only_name", help="only show the Rollout with this name")
    rollouts.add_argument("-w", "--watch", action="store_true", help="print a line again whenever a Rollout changes")
    rollouts.set_defaults(handler=_rollout_list)
    experiments = kinds.add_parser(
        "experiments", aliases=["exp", "experiment"], help="(not supported yet)", parents=[common]
    )
    experiments.add_argument("-A", "--all-namespaces", action="store_true", help=argparse.SUPPRESS)
    experiments.set_defaults(handler=_experiments_unsupported)


def _add_status(commands: Any, common: argparse.ArgumentParser) -> None:
    status = commands.add_parser(
        "status",
        help="watch a Rollout until Healthy (exit 0) or Degraded (1); --watch=false for one look",
        parents=[common],
    )
    status.add_argument("name", help="the Rollout")
    status.add_argument(
        "-w",
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="watch until it is done (default; --watch=false or --no-watch prints the status once)",
    )
    status.add_argument(
        "-t",
        "--timeout",
        type=_go_duration,
        default=None,
        help="give up watching after this long (5m, 90s, 1h30m; 0 waits forever, the default): exit 1",
    )
    status.set_defaults(handler=_rollout_status)


def _add_retry(commands: Any, common: argparse.ArgumentParser) -> None:
    retry = commands.add_parser(
        "retry", help="retry an aborted Rollout (retry rollout NAME; retry NAME works too)", parents=[common]
    )
    kinds = retry.add_subparsers(dest="kind", required=True, metavar="KIND")
    rollout = kinds.add_parser(
        "rollout", aliases=list(_ROLLOUT_ALIASES), help="retry an aborted update from the first step", parents=[common]
    )
    rollout.add_argument("names", nargs="+", metavar="NAME", help="the Rollout(s)")
    rollout.set_defaults(handler=lambda args: _each_rollout(args, "retry", lambda c, n: c.retry(n)))
    experiment = kinds.add_parser(
        "experiment", aliases=list(_EXPERIMENT_ALIASES), help="(not supported yet)", parents=[common]
    )
    experiment.add_argument("names", nargs="+", metavar="NAME")
    experiment.set_defaults(handler=_experiments_unsupported)


def _add_rollout_actions(commands: Any, common: argparse.ArgumentParser) -> None:
    """abort, pause, resume (several names, as Argo's), promote, undo, restart."""
    for name, help_text, act in (
        ("abort", "abort the update: all traffic and capacity back to stable", lambda c, n: c.abort(n)),
        ("pause", "pause the Rollout (spec.paused)", lambda c, n: c.pause(n)),
        ("resume", "resume a paused Rollout (spec.paused=false)", lambda c, n: c.resume(n)),
    ):
        sub = commands.add_parser(name, help=help_text, parents=[common])
        sub.add_argument("names", nargs="+", metavar="NAME", help="the Rollout(s)")
        sub.set_defaults(handler=lambda args, name=name, act=act: _each_rollout(args, name, act))
    promote = commands.add_parser(
        "promote", help="release the current pause (or skip the current step)", parents=[common]
    )
    promote.add_argument("name", help="the Rollout")
    promote.add_argument("--full", action="store_true", help="skip every remaining step, analysis and pause")
    promote.set_defaults(handler=_rollout_command)
    undo = commands.add_parser("undo", help="roll back to the previous (or a given) revision", parents=[common])
    undo.add_argument("name", help="the Rollout")
    undo.add_argument("--to-revision", type=int, default=0, help="the revision to go back to (default: the previous)")
    undo.set_defaults(handler=_rollout_command)
    restart = commands.add_parser("restart", help="restart every pod, respecting maxUnavailable", parents=[common])
    restart.add_argument("name", help="the Rollout")
    restart.add_argument(
        "-i",
        "--in",
        dest="delay",
        type=_go_duration,
        default=_go_duration("0s"),
        help="restart after this long (30s, 5m)",
    )
    restart.set_defaults(handler=_rollout_restart)


def _add_set(commands: Any, common: argparse.ArgumentParser) -> None:
    set_parser = commands.add_parser("set", help="update a Rollout field", parents=[common])
    set_commands = set_parser.add_subparsers(dest="set_command", required=True, metavar="FIELD")
    image = set_commands.add_parser(
        "image", help="set a container's image (a workloadRef Rollout: its Deployment's)", parents=[common]
    )
    image.add_argument("name", help="the Rollout")
    image.add_argument("assignment", metavar="CONTAINER=IMAGE", help="container name (or *) = image")
    image.set_defaults(handler=_rollout_command)


def _add_analysisrun_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    create = commands.add_parser("create", help="create an AnalysisRun from a template", parents=[common])
    kinds = create.add_subparsers(dest="kind", required=True, metavar="KIND")
    run = kinds.add_parser(
        "analysisrun",
        aliases=["ar"],
        help="an AnalysisRun from an AnalysisTemplate (or a cluster one)",
        parents=[common],
    )
    run.add_argument("--from", dest="from_template", metavar="TEMPLATE", help="the AnalysisTemplate in the cluster")
    run.add_argument("--from-file", type=Path, help="an AnalysisTemplate (or ClusterAnalysisTemplate) file")
    run.add_argument(
        "--global", dest="cluster_template", action="store_true", help="--from names a ClusterAnalysisTemplate"
    )
    run.add_argument("--name", dest="run_name", help="the run's name")
    run.add_argument("--generate-name", help="the run's generateName (default: the template's name and '-')")
    run.add_argument("--instance-id", help="the controller instance-id label for the run")
    run.add_argument(
        "-a", "--argument", action="append", default=[], metavar="NAME=VALUE", help="a template arg (repeatable)"
    )
    run.set_defaults(handler=_analysisrun_create)
    terminate = commands.add_parser("terminate", help="terminate a running AnalysisRun", parents=[common])
    targets = terminate.add_subparsers(dest="kind", required=True, metavar="KIND")
    analysis_run = targets.add_parser(
        "analysisrun", aliases=["ar", "analysisruns"], help="set spec.terminate on the run(s)", parents=[common]
    )
    analysis_run.add_argument("names", nargs="+", metavar="NAME", help="the AnalysisRun(s)")
    analysis_run.set_defaults(handler=_analysisrun_terminate)
    experiment = targets.add_parser(
        "experiment", aliases=list(_EXPERIMENT_ALIASES), help="(not supported yet)", parents=[common]
    )
    experiment.add_argument("names", nargs="+", metavar="NAME")
    experiment.set_defaults(handler=_experiments_unsupported)


def _add_version_and_completion(commands: Any, common: argparse.ArgumentParser) -> None:
    plugin_version = commands.add_parser("version", help="print the plugin's version", parents=[common])
    plugin_version.add_argument("--short", action="store_true", help="print just the version")
    plugin_version.set_defaults(handler=_plugin_version)
    from rollouts.commands.completion import SHELLS

    completion = commands.add_parser(
        "completion", help=f"print a shell completion script ({', '.join(SHELLS)})", parents=[common]
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(handler=_completion)


class _ExactFlagsParser(argparse.ArgumentParser):
    """No abbreviated long flags (``--time`` for ``--timeout``), as pflag; its subcommands inherit the class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def _kubectl_parser() -> argparse.ArgumentParser:
    parser = _ExactFlagsParser(prog="kubectl rollouts", description="Operate Rollouts from kubectl.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rollouts')}")
    # Like kubectl, the connection flags go before or after the command: `kubectl rollouts -n ns get x` or
    # `kubectl rollouts get x -n ns`. The copies on subcommands leave the value alone unless given there.
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    _add_kube_flags(parser)
    _add_api_group_flag(parser)
    common = _ExactFlagsParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    _add_kube_flags(common)
    _add_api_group_flag(common)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_get(commands, common)
    _add_list(commands, common)
    _add_status(commands, common)
    _add_rollout_actions(commands, common)
    _add_retry(commands, common)
    _add_set(commands, common)
    _add_analysisrun_commands(commands, common)
    _add_lint(commands, common)
    _add_version_and_completion(commands, common)
    return parser


# Go's strconv.ParseBool, which pflag uses for `--flag=value` on a boolean flag.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(_parsers(child))
    return found


def _argo_argv(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """Argo's spellings that argparse does not read, rewritten into ours before parsing:

    - a boolean flag with a value, as pflag allows (``--watch=false``, ``-w=true``): the flag, its ``--no-`` form,
      or nothing (a false store_true flag is its default);
    - our older forms without a kind: ``get NAME`` and ``retry NAME`` mean ``get rollout NAME``/``retry rollout NAME``.
    """
    valued: set[str] = set()
    negations: dict[str, str | None] = {}
    for each in _parsers(parser):
        for action in each._actions:
            if not action.option_strings or isinstance(action, argparse._SubParsersAction):
                continue
            if action.nargs == 0:
                negative = next((o for o in action.option_strings if o.startswith("--no-")), None)
                for option in action.option_strings:
                    negations[option] = negative
            else:
                valued.update(action.option_strings)
    tokens: list[str] = []
    for token in argv:
        option, sep, value = token.partition("=")
        if sep and option in negations and option not in valued and (value in _GO_TRUE or value in _GO_FALSE):
            if value in _GO_TRUE:
                tokens.append(option)
            elif negations[option]:
                tokens.append(str(negations[option]))
            continue
        tokens.append(token)

    def positionals() -> list[int]:
        found, skip = [], False
        for index, token in enumerate(tokens):
            if skip:
                skip = False
            elif token.startswith("-"):
                skip = "=" not in token and token in valued
            else:
                found.append(index)
        return found

    words = positionals()
    if len(words) >= 2 and tokens[words[0]] in ("get", "retry"):
        kinds = {"rollout", *_ROLLOUT_ALIASES, "experiment", *_EXPERIMENT_ALIASES}
        if tokens[words[1]] not in kinds:
            tokens.insert(words[1], "rollout")
    return tokens


def kubectl_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kubectl-rollouts`` (so ``kubectl rollouts ...`` works once it is on PATH)."""
    parser = _kubectl_parser()
    args = parser.parse_args(_argo_argv(parser, sys.argv[1:] if argv is None else argv))
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
