"""The pod planner: the part of the local cluster's simulated kubelet that reads pod specs. KWOK plays out the rest.

One process of the local cluster, started with it (:class:`~rollouts.devcluster.cluster.LocalCluster`) under its own
identity (``rollouts-pod-planner``: pods get/list/watch/patch, events create). It lists and then watches every pod,
computes :func:`~rollouts.devcluster.podsim.plan.plan_pod` and, when the pod's ``kwok.rollouts.dev/plan``
annotation is missing or different, writes it with one merge patch guarded by the pod's uid. KWOK's pod stages act
only on pods that carry a plan, so no pod runs before it has been decided (no race). Level-based: on a restart, or
when its watch expires, it lists again and converges; a pod whose plan is already right costs no write. For a
:class:`~rollouts.devcluster.podsim.plan.Refusal` it also emits one Warning Event (``InvalidSimulation``) on the pod.

It never writes anything else, never touches a pod that is being deleted or has finished, and never decides
anything itself: every decision is in :mod:`rollouts.devcluster.podsim.plan`.

Run as ``python -m rollouts.devcluster.podsim.planner --server URL --ca FILE --cert FILE --key FILE --ready-file
FILE``; the ready file appears once every existing pod has been planned and the watch is about to start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from rollouts.devcluster.podsim.plan import PLAN_ANNOTATION, PodPlan, Refusal, plan_pod

__all__ = ["Planner", "main"]

log = logging.getLogger(__name__)

_EVENT_SOURCE = "rollouts-pod-planner"
_MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
_WATCH_SECONDS = 300
_RETRY_SECONDS = 1.0
_DONE_PHASES = frozenset({"Succeeded", "Failed"})


class _WatchExpiredError(Exception):
    """The watch's resourceVersion is too old (HTTP 410): list again."""


class Planner:
    """Keeps every pod's plan annotation equal to :func:`plan_pod` of the pod."""

    def __init__(self, *, server: str, http: requests.Session) -> None:
        self._server = server.rstrip("/")
        self._http = http
        # What this process last wrote per pod uid: a watch event still showing the pod as it was before that write
        # (events trail writes) must not cause a second, identical write.
        self._written: dict[str, str] = {}
        self.patches = 0  # writes made, for the log and for tests

    # -- one pod --------------------------------------------------------------------------------------------------
    def reconcile(self, pod: Mapping[str, Any]) -> None:
        """Write the pod's plan if it is missing or stale; pods being deleted or finished are left alone."""
        metadata = pod.get("metadata") or {}
        if metadata.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in _DONE_PHASES:
            return
        try:
            plan: PodPlan | Refusal = plan_pod(pod)
        except Exception as error:  # a bug in the planning core: say so on this pod, keep serving the others
            log.exception("planning pod %s/%s failed", metadata.get("namespace"), metadata.get("name"))
            plan = Refusal(problems=(f"the pod planner failed on this pod (a bug of the local cluster): {error!r}",))
        wanted = plan.annotation()
        current = (metadata.get("annotations") or {}).get(PLAN_ANNOTATION)
        namespace, name, uid = metadata.get("namespace", ""), metadata.get("name", ""), metadata.get("uid", "")
        if wanted in (current, self._written.get(uid)):
            return
        body = {"metadata": {"uid": uid, "annotations": {PLAN_ANNOTATION: wanted}}}
        url = f"{self._server}/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}"
        response = self._http.patch(url, data=json.dumps(body), headers=_MERGE_PATCH, timeout=30)
        if response.status_code in (404, 409, 422):  # gone, or replaced by a new pod of the same name
            log.debug("pod %s/%s changed under the planner (HTTP %s)", namespace, name, response.status_code)
            return
        response.raise_for_status()
        self._written[uid] = wanted
        self.patches += 1
        if isinstance(plan, Refusal):
            log.warning("pod %s/%s cannot be simulated: %s", namespace, name, "; ".join(plan.problems))
            self._event(metadata, "; ".join(plan.problems))
        else:
            log.info("planned pod %s/%s: %s", namespace, name, plan.fate)

    def forget(self, pod: Mapping[str, Any]) -> None:
        """The pod is gone: drop what was remembered about it."""
        self._written.pop((pod.get("metadata") or {}).get("uid", ""), None)

    def _event(self, metadata: Mapping[str, Any], message: str) -> None:
        namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": namespace, "name": name,
                               "uid": metadata.get("uid", "")},
            "reason": "InvalidSimulation",
            "message": f"the local cluster cannot simulate this pod; it stays Pending: {message}",
            "type": "Warning",
            "source": {"component": _EVENT_SOURCE},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }  # fmt: skip
        url = f"{self._server}/api/v1/namespaces/{quote(namespace)}/events"
        response = self._http.post(url, json=event, timeout=30)
        if not response.ok:
            log.warning("could not record the event for pod %s/%s: HTTP %s", namespace, name, response.status_code)

    # -- all pods -------------------------------------------------------------------------------------------------
    def list_all(self) -> str:
        """Plan every existing pod; return the list's resourceVersion to watch from."""
        token = ""
        seen: set[str] = set()
        while True:
            params = {"limit": "500", **({"continue": token} if token else {})}
            response = self._http.get(f"{self._server}/api/v1/pods", params=params, timeout=60)
            response.raise_for_status()
            listed = response.json()
            for pod in listed.get("items") or []:
                seen.add((pod.get("metadata") or {}).get("uid", ""))
                self.reconcile(pod)
            token = (listed.get("metadata") or {}).get("continue") or ""
            if not token:
                # Deletions missed while not watching: forget those pods.
                self._written = {uid: plan for uid, plan in self._written.items() if uid in seen}
                return str(listed["metadata"]["resourceVersion"])

    def watch(self, resource_version: str) -> str:
        """Plan pods as they are added or changed, until the server ends the watch; return where to resume."""
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(_WATCH_SECONDS),
        }
        with self._http.get(
            f"{self._server}/api/v1/pods", params=params, stream=True, timeout=(10, _WATCH_SECONDS + 30)
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line:
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _WatchExpiredError
                    raise requests.RequestException(f"watch error: {obj.get('message')}")
                resource_version = (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                if kind in ("ADDED", "MODIFIED"):
                    self.reconcile(obj)
                elif kind == "DELETED":
                    self.forget(obj)
        return resource_version

    def run(self, *, ready_file: Path | None = None) -> None:
        """List, then watch for ever; list again whenever the watch cannot resume."""
        resource_version = self._list_until_it_works()
        if ready_file is not None:
            ready_file.write_text(f"{resource_version}\n")
        log.info("pod planner ready: %d existing pod(s) planned, watching from %s", self.patches, resource_version)
        while True:
            try:
                resource_version = self.watch(resource_version)
            except _WatchExpiredError:
                resource_version = self._list_until_it_works()
            except (requests.RequestException, ValueError) as error:  # the API server went away, or a bad answer
                log.warning("pod watch interrupted (%s); listing again", error)
                time.sleep(_RETRY_SECONDS)
                resource_version = self._list_until_it_works()
            except Exception:  # anything else is a bug: log it loudly, but a dead planner would stall every pod
                log.exception("the pod planner failed; listing again")
                time.sleep(_RETRY_SECONDS)
                resource_version = self._list_until_it_works()

    def _list_until_it_works(self) -> str:
        while True:
            try:
                return self.list_all()
            except (requests.RequestException, ValueError) as error:
                log.warning("listing pods failed (%s); retrying", error)
                time.sleep(_RETRY_SECONDS)
            except Exception:
                log.exception("listing pods failed; retrying")
                time.sleep(_RETRY_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--server", required=True, help="the API server's URL")
    parser.add_argument("--ca", required=True, type=Path, help="the cluster CA certificate (PEM)")
    parser.add_argument("--cert", required=True, type=Path, help="the planner's client certificate (PEM)")
    parser.add_argument("--key", required=True, type=Path, help="the planner's client key (PEM)")
    parser.add_argument("--ready-file", type=Path, help="written once every existing pod has been planned")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    http = requests.Session()
    http.trust_env = False  # a loopback server with our own CA: no proxies, no REQUESTS_CA_BUNDLE
    http.cert = (str(args.cert), str(args.key))
    http.verify = str(args.ca)
    Planner(server=args.server, http=http).run(ready_file=args.ready_file)
    return 0  # pragma: no cover - run() returns only by an exception or a signal


if __name__ == "__main__":
    sys.exit(main())
