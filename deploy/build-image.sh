#!/bin/sh
# Builds the Dockerfile with buildah where no container registry is reachable (as on
# alertpilot's CI machines): the base image is made from Debian packages with mmdebstrap
# (bookworm, python3, python3-venv) and passed as PYTHON_IMAGE; everything else is the
# same multi-stage build as `docker build .`.
#
#   sh deploy/build-image.sh [TAG]          (default localhost/alertpilot:dev)
#
# Needs buildah and mmdebstrap (apt-get install buildah mmdebstrap) and root or a
# rootless buildah setup. The base is built once and reused (ALERTPILOT_BASE_IMAGE).
set -eu
cd "$(dirname "$0")/.."
tag="${1:-localhost/alertpilot:dev}"
base="${ALERTPILOT_BASE_IMAGE:-localhost/alertpilot-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # The build machine's CA bundle goes into the base, so pip in the build trusts what
  # the host trusts (a TLS-inspecting proxy included).
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    --customize-hook='upload /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt' \
    bookworm "$work/base.tar" "$mirror"
  ctr="$(buildah from scratch)"
  buildah add "$ctr" "$work/base.tar" / >/dev/null
  buildah config --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt --cmd /bin/sh "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  echo "base image $base made from Debian bookworm packages"
fi

build() {
  buildah bud --quiet --isolation chroot --network host --format docker --layers \
    --build-arg PYTHON_IMAGE="$base" -f Dockerfile "$@" .
}
# The locked dependencies stay tagged, so their layers are the cache of the next build;
# then untagged leftovers of earlier builds are pruned (the disk stays bounded).
build --target deps -t "${ALERTPILOT_DEPS_IMAGE:-localhost/alertpilot-deps:latest}" >/dev/null
build -t "$tag" >/dev/null
buildah rmi --prune >/dev/null 2>&1 || true
echo "built $tag"
