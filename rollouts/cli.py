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
    from rollouts.controller import ControllerConfig, run_controller
    from workflows.api import api_mode

    config = ControllerConfig(mode=api_mode(_api_group(args)), instance_id=args.instance_id)
    return run_controller(
        kubeconfig=args.kubeconfig, context=args.context, namespaces=args.namespace, verbose=args.verbose, config=config
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
    from rollouts.kube.install import install
    from workflows.api import api_mode
    from workflows.runtime.kube import Kube

    kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    try:
        applied = install(kube, rbac=not args.crds_only, mode=api_mode(_api_group(args)))
    finally:
        kube.close()
    for item in applied:
        where = f" -n {item.namespace}" if item.namespace else ""
        print(f"applied {item.kind} {item.name}{where}")
    return 0


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

    controller = commands.add_parser("controller", help="run the operator against the current kubeconfig")
    _add_kube_flags(controller)
    controller.add_argument(
        "-n", "--namespace", action="append", default=[], help="watch only this namespace (repeatable)"
    )
    controller.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    _add_api_group_flag(controller)
    controller.add_argument(
        "--instance-id",
        default="",
        help="serve only objects labelled argo-rollouts.argoproj.io/controller-instance-id=ID "
        "(default: only objects without that label), as Argo's --instance-id",
    )
    controller.set_defaults(handler=_controller)

    install = commands.add_parser("install", help="apply the CRDs and the controller's RBAC to the current cluster")
    _add_kube_flags(install)
    install.add_argument("--crds-only", action="store_true", help="apply only the CRDs")
    _add_api_group_flag(install)
    install.set_defaults(handler=_install)

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


def _rollout_client(args: argparse.Namespace) -> Any:
    from rollouts.commands.rollouts import RolloutClient
    from workflows.api import api_mode
    from workflows.runtime.kube import Kube

    kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    return RolloutClient(kube=kube, namespace=args.namespace or kube.namespace, mode=api_mode(_api_group(args)))


def _rollout_command(args: argparse.Namespace) -> int:
    import datetime as dt

    from rollouts.commands import CommandError

    rollouts = _rollout_client(args)
    try:
        match args.command:
            case "promote":
                message = rollouts.promote(args.name, full=args.full)
            case "abort":
                message = rollouts.abort(args.name)
            case "retry":
                message = rollouts.retry(args.name)
            case "pause":
                message = rollouts.pause(args.name)
            case "resume":
                message = rollouts.resume(args.name)
            case "restart":
                message = rollouts.restart(args.name, now=dt.datetime.now(dt.UTC))
            case "undo":
                message = rollouts.undo(args.name, to_revision=args.to_revision)
            case "set":
                container, sep, image = args.assignment.partition("=")
                if not sep or not container or not image:
                    print("kubectl rollouts set image: expected CONTAINER=IMAGE", file=sys.stderr)
                    return 2
                message = rollouts.set_image(args.name, container, image)
            case _:
                raise AssertionError(args.command)
    except CommandError as error:
        print(f"kubectl rollouts {args.command}: {error}", file=sys.stderr)
        return 1
    finally:
        rollouts.kube.close()
    print(message)
    return 0


def _rollout_get(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    from rollouts.commands import CommandError
    from rollouts.commands.view import read_view, render_rollout

    rollouts = _rollout_client(args)
    console = Console()
    try:
        if not args.watch:
            console.print(render_rollout(read_view(rollouts, args.name)))
            return 0
        with Live(render_rollout(read_view(rollouts, args.name)), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(1)
                live.update(render_rollout(read_view(rollouts, args.name)))
    except CommandError as error:
        print(f"kubectl rollouts get: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        rollouts.kube.close()


def _rollout_status(args: argparse.Namespace) -> int:
    from rollouts.commands import CommandError
    from rollouts.commands.view import wait_for_status

    rollouts = _rollout_client(args)
    try:
        if not args.watch:
            status = rollouts.get(args.name).get("status") or {}
            print(f"{status.get('phase', 'Unknown')}" + (f" - {status['message']}" if status.get("message") else ""))
            return {"Healthy": 0, "Degraded": 1}.get(str(status.get("phase")), 2)
        return wait_for_status(
            lambda: rollouts.get(args.name),
            timeout=args.timeout,
            report=lambda phase, message: print(phase + (f" - {message}" if message else ""), flush=True),
        )
    except CommandError as error:
        print(f"kubectl rollouts status: {error}", file=sys.stderr)
        return 1
    finally:
        rollouts.kube.close()


def _kubectl_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubectl rollouts", description="Operate Rollouts from kubectl.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rollouts')}")
    # Like kubectl, the connection flags go before or after the command: `kubectl rollouts -n ns get x` or
    # `kubectl rollouts get x -n ns`. The copies on subcommands leave the value alone unless given there.
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    _add_kube_flags(parser)
    _add_api_group_flag(parser)
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    _add_kube_flags(common)
    _add_api_group_flag(common)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, parents=[common])
        sub.add_argument("name", help="the Rollout")
        return sub

    get = command("get", "show a Rollout: steps, ReplicaSets, analysis")
    get.add_argument("-w", "--watch", action="store_true", help="keep refreshing")
    get.set_defaults(handler=_rollout_get)
    status = command("status", "print the phase; with --watch wait: exit 0 Healthy, 1 Degraded, 2 timed out")
    status.add_argument("-w", "--watch", action="store_true")
    status.add_argument("-t", "--timeout", type=float, help="seconds to wait with --watch")
    status.set_defaults(handler=_rollout_status)
    promote = command("promote", "release the current pause (or skip the current step)")
    promote.add_argument("--full", action="store_true", help="skip every remaining step and analysis")
    promote.set_defaults(handler=_rollout_command)
    for name, help_text in (
        ("abort", "abort the update: all traffic and capacity back to stable"),
        ("retry", "retry an aborted update from the first step"),
        ("pause", "pause the Rollout (spec.paused)"),
        ("resume", "resume a paused Rollout (spec.paused=false)"),
        ("restart", "restart every pod, respecting maxUnavailable"),
    ):
        command(name, help_text).set_defaults(handler=_rollout_command)
    undo = command("undo", "roll back to the previous (or a given) revision")
    undo.add_argument("--to-revision", type=int)
    undo.set_defaults(handler=_rollout_command)
    set_parser = commands.add_parser("set", help="update a Rollout field")
    set_commands = set_parser.add_subparsers(dest="set_command", required=True, metavar="FIELD")
    image = set_commands.add_parser("image", help="set a container's image", parents=[common])
    image.add_argument("name", help="the Rollout")
    image.add_argument("assignment", metavar="CONTAINER=IMAGE", help="container name (or *) = image")
    image.set_defaults(handler=_rollout_command)
    return parser


def kubectl_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kubectl-rollouts`` (so ``kubectl rollouts ...`` works once it is on PATH)."""
    args = _kubectl_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
