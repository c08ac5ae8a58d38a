"""Whether a container image can be pulled, as far as the simulated kubelet can tell from its reference.

A real kubelet checks the reference, then asks a registry. The simulated one has no registry, so it decides from the
reference alone, in the kubelet's order:

1. ``InvalidImageName``: the reference does not parse the way the kubelet parses it (``ParseNormalizedNamed`` of
   github.com/distribution/reference: ``[domain[:port]/]path[:tag][@digest]``, lowercase path components joined by
   ``.``, ``_``, ``__`` or dashes, a tag of at most 128 word characters, dots and dashes, a name of at most 255
   characters, and no 64-hex-digit repository name). The message is the kubelet's.
2. ``ErrImagePull``: a valid reference whose registry host, path or tag names something missing
   (:func:`~rollouts.devcluster.podsim.names.image_marker`: ``rollouts-demo:does-not-exist``,
   ``nonexistent-image:latest``, ``registry.invalid/app``, ``nginx:1.19-alpine-argo-error``). The digest is never
   read for words; a tag the user did not write (the default ``latest``) neither.
3. Anything else pulls.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rollouts.devcluster.podsim.names import image_marker

__all__ = ["ImageNotFound", "ImageOk", "ImageVerdict", "InvalidImage", "check_image"]

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?",
    re.ASCII,
)
_IDENTIFIER = re.compile(r"[a-f0-9]{64}", re.ASCII)
_MAX_NAME = 255
_DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True, kw_only=True)
class ImageOk:
    """The image pulls; ``normalized`` is its full name (``docker.io/library/nginx:latest``)."""

    normalized: str


@dataclass(frozen=True, kw_only=True)
class InvalidImage:
    """The reference does not parse: the kubelet reports ``InvalidImageName`` and never pulls."""

    message: str


@dataclass(frozen=True, kw_only=True)
class ImageNotFound:
    """The registry would answer "not found": ``ErrImagePull``, then ``ImagePullBackOff``, retried for ever."""

    marker: str
    message: str


ImageVerdict = ImageOk | InvalidImage | ImageNotFound


def check_image(reference: str) -> ImageVerdict:
    """The verdict on ``reference`` (a container's ``image``)."""
    parsed = _normalize(reference)
    if isinstance(parsed, str):
        return InvalidImage(message=f"Failed to apply default image tag {_quote(reference)}: {parsed}")
    domain, path, tag, digest = parsed
    normalized = f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    written_name = reference.split("@", 1)[0]
    written_tag = tag if written_name.endswith(f":{tag}") else ""
    marker = image_marker(written_name.removesuffix(f":{written_tag}" if written_tag else ""), written_tag)
    if marker is None:
        return ImageOk(normalized=normalized)
    return ImageNotFound(
        marker=marker,
        message=(
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{normalized}": '
            f'failed to resolve reference "{normalized}": {normalized}: not found'
        ),
    )


def _normalize(reference: str) -> tuple[str, str, str, str] | str:
    """(domain, path, tag, digest) as the kubelet would pull it, or the kubelet's parse error."""
    prefix = f"couldn't parse image name {_quote(reference)}"
    if _IDENTIFIER.fullmatch(reference):
        return f"{prefix}: invalid repository name ({reference}), cannot specify 64-byte hexadecimal strings"
    slash = reference.find("/")
    first = reference[:slash]
    if slash == -1 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = _DEFAULT_DOMAIN, reference
    else:
        domain, remainder = first, reference[slash + 1 :]
    repository = re.split(r"[:@]", remainder, maxsplit=1)[0]
    if repository.lower() != repository:
        return f"{prefix}: invalid reference format: repository name ({repository}) must be lowercase"
    if domain == _DEFAULT_DOMAIN and "/" not in remainder:
        remainder = f"library/{remainder}"
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if match is None:
        return f"{prefix}: invalid reference format"
    if len(match.group("name")) > _MAX_NAME:
        return f"{prefix}: invalid reference format: repository name must not be more than {_MAX_NAME} characters"
    tag, digest = match.group("tag") or "", match.group("digest") or ""
    path = match.group("name")[len(domain) + 1 :]
    return domain, path, tag or ("" if digest else "latest"), digest


def _quote(text: str) -> str:
    """Go's ``%q`` for the messages (the kubelet's wording)."""
    return json.dumps(text, ensure_ascii=False)
