"""CRDs are served with their schemas enforced, and a kopf operator works against the cluster end to end."""

from __future__ import annotations

import gc
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.support.cluster import Kube, wait_for

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: greetings.smoke.rollouts.dev
spec:
  group: smoke.rollouts.dev
  scope: Namespaced
  names: {plural: greetings, singular: greeting, kind: Greeting}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [name]
            properties:
              name: {type: string, minLength: 1}
              times: {type: integer, minimum: 1, maximum: 10, default: 1}
          status:
            type: object
            properties:
              message: {type: string}
"""


@pytest.fixture(scope="module")
def greeting_crd(kube: Kube) -> Iterator[str]:
    kube.kubectl("apply", "-f", "-", input=CRD)
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/greetings.smoke.rollouts.dev")
    yield "greetings.smoke.rollouts.dev"
    kube.kubectl("delete", "crd", "greetings.smoke.rollouts.dev", "--wait=false")


def test_crd_becomes_established_and_applies_defaults(kube: Kube, greeting_crd: str, namespace: str) -> None:
    kube.kubectl("-n", namespace, "apply", "-f", "-", input="apiVersion: smoke.rollouts.dev/v1\n"
                 "kind: Greeting\nmetadata: {name: hello}\nspec: {name: world}\n")  # fmt: skip
    times = kube.kubectl("-n", namespace, "get", "greeting", "hello", "-o", "jsonpath={.spec.times}").stdout
    assert times == "1"


def test_custom_resource_violating_the_schema_is_rejected_with_the_field_path(
    kube: Kube, greeting_crd: str, namespace: str
) -> None:
    bad = "apiVersion: smoke.rollouts.dev/v1\nkind: Greeting\nmetadata: {name: bad}\nspec: {name: x, times: 99}\n"
    result = kube.kubectl("-n", namespace, "apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert "spec.times" in result.stderr
    assert "less than or equal to 10" in result.stderr


OPERATOR = """
import kopf

from rollouts.controller import connection_from_kubeconfig


@kopf.on.login()
def login(**_):
    return connection_from_kubeconfig(KUBECONFIG)


@kopf.on.create("smoke.rollouts.dev", "v1", "greetings")
def greet(spec, patch, **_):
    patch.status["message"] = "hello, " + spec["name"]
"""


def test_kopf_operator_reacts_and_patches_status(kube: Kube, greeting_crd: str, namespace: str, tmp_path: Path) -> None:
    from kopf.testing import KopfRunner

    operator = tmp_path / "operator.py"
    operator.write_text(f"KUBECONFIG = {str(kube.kubeconfig)!r}\n" + textwrap.dedent(OPERATOR))
    custom = client.CustomObjectsApi(kube.api_client)
    with KopfRunner(["run", "--standalone", f"--namespace={namespace}", str(operator)]) as runner:
        custom.create_namespaced_custom_object(
            "smoke.rollouts.dev", "v1", namespace, "greetings",
            {"apiVersion": "smoke.rollouts.dev/v1", "kind": "Greeting", "metadata": {"name": "kopf"},
             "spec": {"name": "kopf"}},
        )  # fmt: skip

        def message() -> str | None:
            obj = custom.get_namespaced_custom_object_status("smoke.rollouts.dev", "v1", namespace, "greetings", "kopf")
            return obj.get("status", {}).get("message")

        greeting = wait_for(message, timeout=60, what="the operator to write status.message")
    # KopfRunner closes kopf's loop with aiohttp connections still open; they are garbage by now. Collect them here,
    # where they belong, rather than letting their ResourceWarnings land in whichever test runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
    assert greeting == "hello, kopf"
