"""Image references as the simulated kubelet judges them: the kubelet's parse first, then the name rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.devcluster.podsim.images import ImageNotFound, ImageOk, InvalidImage, check_image

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("reference", "normalized"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.27", "docker.io/library/nginx:1.27"),
        ("argoproj/rollouts-demo:blue", "docker.io/argoproj/rollouts-demo:blue"),
        ("argoproj/rollouts-demo:bad-red", "docker.io/argoproj/rollouts-demo:bad-red"),
        ("demo:3.0-bad", "docker.io/library/demo:3.0-bad"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("localhost/app:v1", "localhost/app:v1"),
        ("ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox:1.36@{DIGEST}"),
        ("Registry.Example:5000/app", "Registry.Example:5000/app:latest"),  # a host may have capitals
    ],
)
def test_references_that_pull(reference: str, normalized: str) -> None:
    assert check_image(reference) == ImageOk(normalized=normalized)


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("Nginx:1", "must be lowercase"),
        ("org/App", "must be lowercase"),
        ("nginx:", "invalid reference format"),
        ("nginx::1", "invalid reference format"),
        ("-nginx", "invalid reference format"),
        ("", "invalid reference format"),
        ("nginx:" + "x" * 129, "invalid reference format"),
        ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
        ("x/" + "a" * 260, "must not be more than 255 characters"),
    ],
)
def test_references_the_kubelet_cannot_parse_are_invalid_image_names(reference: str, says: str) -> None:
    verdict = check_image(reference)
    assert isinstance(verdict, InvalidImage)
    assert says in verdict.message
    assert verdict.message.startswith("Failed to apply default image tag")


@pytest.mark.parametrize(
    ("reference", "marker"),
    [
        ("argoproj/rollouts-demo:does-not-exist", "does-not-exist"),
        ("nginx:bad", "bad"),
        ("nginx:1.19-alpine-argo-error", "error"),
        ("nonexistent-image-that-does-not-exist:latest", "nonexistent"),
        ("registry.invalid/app:1", "invalid"),
        (f"nginx:invalid@{DIGEST}", "invalid"),
    ],
)
def test_references_that_name_something_missing_are_not_found(reference: str, marker: str) -> None:
    verdict = check_image(reference)
    assert isinstance(verdict, ImageNotFound)
    assert verdict.marker == marker
    assert "not found" in verdict.message


def test_the_default_tag_and_the_digest_are_never_read_for_words() -> None:
    assert isinstance(check_image("app"), ImageOk)  # "latest" was not written
    assert isinstance(check_image("app@sha256:" + "bad0" * 16), ImageOk)


@given(
    st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+){0,2}(?:/[a-z0-9]+(?:[._-][a-z0-9]+){0,2}){0,2}", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
)
def test_every_well_formed_reference_gets_a_verdict_that_names_its_tag(path: str, tag: str) -> None:
    reference = f"{path}:{tag}" if tag else path
    verdict = check_image(reference)
    assert not isinstance(verdict, InvalidImage), verdict
    if isinstance(verdict, ImageOk):
        assert verdict.normalized.endswith(f":{tag or 'latest'}")
