#!/usr/bin/env bash
# Build the controller's image without a Docker engine: Debian's buildah (chroot isolation, vfs storage, as root) on a
# Debian bookworm base root filesystem made by mmdebstrap (no base-image registry is reachable here), with a wheelhouse
# built on the host (no package index is reachable from inside the build). Prints the image name, its size and the
# build time. Usage: tools/image/build.sh [TAG]   (default: localhost/rollouts:<version>)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${ROLLOUTS_CACHE:-$HOME/.cache/rollouts}/image"
base=localhost/rollouts-base:bookworm
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
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
  echo "[image] making the base root filesystem (mmdebstrap, Debian bookworm: python3, python3-venv)" >&2
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
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
buildah bud --quiet --layers --isolation chroot --build-arg "BASE_IMAGE=$base" \
  -f "$here/deploy/Containerfile" -t "$tag" "$context" >/dev/null
size=$(buildah images --format '{{.Size}}' "$tag" | head -1)
echo "$tag $size $(( $(date +%s) - started ))s"
