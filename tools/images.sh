#!/usr/bin/env bash
# `make images`: every image built with podman from its own Dockerfile, unchanged.
#   tools/images.sh IMAGE...   (IMAGE: a service under services/, or gateway), tagged REGISTRY/IMAGE:TAG
#
# Base images (each Dockerfile's FROM) are pulled when a registry answers; otherwise
# python:*-slim-bookworm is made here from Debian's packages, under the same name (README,
# "Images"). A base already present is kept: neither pulled nor made again. Builds use the
# host's network and its CA certificates (pip inside a build verifies what it downloads).
# Each image's build time and size go to .run/images/report.tsv (BENCHMARKS.md quotes them).
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY=${REGISTRY:-cotoami}
TAG=${TAG:-0.1.0}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PULL_TIMEOUT=${PULL_TIMEOUT:-120}
state=.run/images
mkdir -p "$state"

[[ $# -gt 0 ]] || { echo "usage: tools/images.sh IMAGE..." >&2; exit 2; }
command -v podman >/dev/null || { echo "images: podman is missing: run 'tools/install.sh --images'" >&2; exit 1; }

dockerfile_of() { if [[ $1 == gateway ]]; then echo gateway/Dockerfile; else echo "services/$1/Dockerfile"; fi; }
context_of() { if [[ $1 == gateway ]]; then echo gateway; else echo services; fi; }

# docker.io/library/NAME:TAG for an official image's short name, as the Dockerfiles write them.
qualified() {
  local name=$1 first=${1%%/*}
  if [[ $name != */* ]]; then echo "docker.io/library/$name"
  elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then echo "docker.io/$name"
  else echo "$name"; fi
}

for image in "$@"; do
  [[ -f $(dockerfile_of "$image") ]] || { echo "images: $(dockerfile_of "$image") is missing (is '$image' a service?)" >&2; exit 1; }
done

# The bases the Dockerfiles start from (FROM lines naming an image, not an earlier stage).
bases() {
  local file
  for image in "$@"; do
    file=$(dockerfile_of "$image")
    awk 'toupper($1) == "FROM" { name = $2; for (i = 3; i <= NF; i++) if (toupper($i) == "AS") stages[$(i + 1)] = 1;
         if (!(name in stages)) print name }' "$file"
  done | sort -u
}

# python:VERSION-slim-bookworm from Debian bookworm's own packages: a minbase root file system
# with python3, venv, `python` and the CA certificates, imported as an image of that name.
make_python_base() {
  local name=$1 root
  command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] \
    || { echo "images: debootstrap is missing: run 'tools/install.sh --images'" >&2; exit 1; }
  root=$(mktemp -d /var/tmp/cotoami-base.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" EXIT
  echo "images: no registry answered for $name: making it from Debian bookworm's packages ($DEBIAN_MIRROR)"
  /usr/sbin/debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$root" "$DEBIAN_MIRROR" > "$state/debootstrap.log" 2>&1 \
    || { echo "images: debootstrap failed: see $state/debootstrap.log" >&2; exit 1; }
  # The official image's sources (bookworm, its updates and security), and their updates applied.
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${DEBIAN_MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq && apt-get clean' \
    >> "$state/debootstrap.log" 2>&1 || { echo "images: updating the base failed: see $state/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root/etc/resolv.conf"
  : > "$root/etc/resolv.conf"
  tar --numeric-owner -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "made by cotoami's tools/images.sh: debootstrap --variant=minbase bookworm + python3 python3-venv python-is-python3 ca-certificates" \
    --quiet - "$name" > /dev/null
  rm -rf "$root"
  trap - EXIT
}

ensure_base() {
  local name
  name=$(qualified "$1")
  if podman image exists "$name"; then return 0; fi
  echo "images: pulling $name"
  if timeout "$PULL_TIMEOUT" podman pull -q "$name" > /dev/null 2> "$state/pull.log"; then return 0; fi
  echo "images: could not pull $name ($(tail -n 1 "$state/pull.log"))"
  case $name in
    docker.io/library/python:*-slim-bookworm) make_python_base "$name" ;;
    *) echo "images: $name can be neither pulled nor made here: pull it where a registry answers, then 'podman load'" >&2; exit 1 ;;
  esac
}

for base in $(bases "$@"); do
  started=$SECONDS
  ensure_base "$base"
  echo "images: base $(qualified "$base") ready ($((SECONDS - started)) s)"
done

# pip inside a build verifies PyPI with the host's CA certificates, whichever base it runs on
# (the official image's pip reads /etc/pip.conf; Debian's reads /etc/ssl/certs itself).
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$state/pip.conf"
report=$state/report.tsv
: > "$report.new"
for image in "$@"; do
  name=$REGISTRY/$image:$TAG
  started=$SECONDS
  podman build --quiet --network host --pull=never \
    --volume /etc/ssl/certs:/etc/ssl/certs:ro --volume "$PWD/$state/pip.conf:/etc/pip.conf:ro" \
    -f "$(dockerfile_of "$image")" -t "$name" "$(context_of "$image")" > "$state/$image.id" 2> "$state/$image.build.log" \
    || { cat "$state/$image.build.log" >&2; echo "images: building $name failed (log: $state/$image.build.log)" >&2; exit 1; }
  seconds=$((SECONDS - started))
  size=$(podman image inspect --format '{{.Size}}' "$name")
  printf '%s\t%s\t%s\n' "$image" "$seconds" "$size" >> "$report.new"
  echo "images: $name built in ${seconds} s, $((size / 1000000)) MB"
done
mv "$report.new" "$report"
