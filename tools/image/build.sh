#!/usr/bin/env bash
# Build the controller's image without a Docker engine: Debian's buildah (chroot isolation, vfs storage, as root) on a
# Debian bookworm base root filesystem made by mmdebstrap (no base-image registry is reachable here), with a wheelhouse
# built on the host (no package index is reachable from inside the build). Needs root (buildah's chroot isolation).
# Prints "<image> <size> <seconds>" on stdout; progress goes to stderr.
# Usage: tools/image/build.sh [TAG]   (default: localhost/rollouts:<version>)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${ROLLOUTS_CACHE:-$HOME/.cache/rollouts}/image"
# The base's tag names its recipe: change the mmdebstrap line below and bump it.
base=localhost/rollouts-base:bookworm-3
export BUILDAH_ISOLATION=chroot
python="${PYTHON:-$here/.venv/bin/python}"
version="$("$python" -c 'from importlib.metadata import version; print(version("rollouts"))')"
tag="${1:-localhost/rollouts:$version}"
started=$(date +%s)

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p "$cache"
if ! buildah images --quiet "$base" >/dev/null 2>&1; then
  echo "[image] making the base root filesystem (mmdebstrap, Debian bookworm: python3, python3-venv, libstdc++6 for google-re2)" >&2
  # essential: no apt and no package manager state beyond dpkg's; no documentation, manuals or translations.
  mmdebstrap --quiet --variant=essential --include=python3,python3-venv,ca-certificates,libstdc++6 \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$cache/bookworm.tar" >&2
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$cache/bookworm.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
echo "[image] wheelhouse (pip wheel of this tree and its dependencies)" >&2
"$python" -m pip wheel --quiet --wheel-dir "$context/wheelhouse" "$here" >&2
echo "[image] buildah bud $tag" >&2
buildah bud --quiet --isolation chroot --build-arg "BASE_IMAGE=$base" \
  -f "$here/deploy/Containerfile" -t "$tag" "$context" >/dev/null
buildah rmi --prune >/dev/null 2>&1 || true  # the build stage and the previous build's image, now untagged
size=$(buildah images --format '{{.Size}}' "$tag" | head -1 | tr -d ' ')
echo "$tag $size $(( $(date +%s) - started ))s"
