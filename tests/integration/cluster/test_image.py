"""The controller's container image (deploy/Containerfile, built by `make image` with buildah) runs the controller:
started from the image's own filesystem, as its non-root user, it takes a Rollout through an update to Healthy on the
local cluster. No container runtime runs here, so `buildah run --isolation chroot` starts the image's entrypoint
command with the host's network, the same process a kubelet would start."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import REPO, Kube, apply
from tests.support.cluster_rollouts import kubectl_rollouts, rollout, set_image, wait_healthy, wait_status

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI", "").lower() not in {"1", "true", "yes"},
    reason="buildah's chroot isolation needs root (CI runs as root and never skips this)",
)
ENV = {**os.environ, "STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"}


def buildah(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["buildah", *args], capture_output=True, text=True, check=False, env=ENV, timeout=timeout)
    if check:
        assert result.returncode == 0, f"buildah {' '.join(args)}:\n{result.stderr}{result.stdout}"
    return result


@pytest.fixture(scope="module")
def image() -> str:
    """`make image`'s script: the base root filesystem (cached), a wheelhouse of this tree and the build."""
    built = subprocess.run([str(REPO / "tools" / "image" / "build.sh")], capture_output=True, text=True, check=False,
                           timeout=1200)  # fmt: skip
    assert built.returncode == 0, built.stderr[-4000:]
    return built.stdout.split()[0]


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = buildah("from", "--quiet", "--pull-never", image).stdout.strip()
    yield name
    buildah("rm", name, check=False)


def test_image_is_non_root_with_the_controller_as_entrypoint_and_no_compilers(image: str) -> None:
    config = json.loads(buildah("inspect", "--type=image", image).stdout)["OCIv1"]["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["rollouts", "controller"]
    assert {"8080/tcp", "8090/tcp"} <= set(config.get("ExposedPorts") or {})


def test_image_filesystem_has_no_compilers_and_no_pip(container: str) -> None:
    found = buildah("run", "--isolation=chroot", container, "--", "/bin/sh", "-c",
                    "command -v gcc cc g++ pip pip3 || true").stdout  # fmt: skip
    assert found.strip() == ""


def test_image_runs_a_rollout_through_an_update(kube: Kube, namespace: str, container: str, tmp_path: Path,
                                                 crds_installed: list[str]) -> None:  # fmt: skip
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(kube.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o644)  # read by the image's user 65532
    log = (tmp_path / "controller.log").open("wb")
    process = subprocess.Popen(
        ["buildah", "run", "--isolation=chroot", "--network=host", "--user=65532:65532",
         f"--volume={kubeconfig}:/etc/rollouts/kubeconfig:ro", container, "--",
         "rollouts", "controller", "--kubeconfig=/etc/rollouts/kubeconfig", f"--namespace={namespace}",
         "--no-leader-elect", "--metrics-port=0", "--healthz-port=0"],
        stdout=log, stderr=subprocess.STDOUT, env=ENV,
    )  # fmt: skip
    try:
        steps = [{"setWeight": 50}, {"pause": {}}]
        apply(kube, namespace, rollout("imaged", replicas=4, strategy={"canary": {"steps": steps}}))
        wait_healthy(kube, namespace, "imaged", timeout=90)
        set_image(kube, namespace, "imaged", "demo:green")
        wait_status(kube, namespace, "imaged", what="paused at step 1", phase="Paused", currentStepIndex=1, timeout=60)
        kubectl_rollouts(kube, namespace, "promote", "imaged")
        wait_healthy(kube, namespace, "imaged", timeout=60)
        assert process.poll() is None
    except AssertionError as error:
        log_tail = (tmp_path / "controller.log").read_text()[-4000:]
        raise AssertionError(f"{error}\n--- controller log ---\n{log_tail}") from error
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()
