#!/usr/bin/env bash
# Installs what the local stack and the tests need, skipping what is there.
#   tools/install.sh          the stack: venv and Python packages, nginx, maildev
#   tools/install.sh --tests  also Chromium for the browser tests
#   tools/install.sh --bench  also wrk and bench/requirements.txt for `make bench`
#   tools/install.sh --images also podman, runc, catatonit and debootstrap for `make images`, `make up IMAGES=1`
#                             and podman kube play
# When something cannot be installed it stops with one line saying how to get it.
set -euo pipefail
cd "$(dirname "$0")/.."
# One install at a time: make targets run it on their own, and several test runs may start together.
mkdir -p .run
exec 9>.run/install.lock
flock 9

need() {  # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]] && return 0
  apt_install "$1" "$2"
}

apt_install() {  # apt_install WHAT DEBIAN_PACKAGE
  if [[ $(id -u) -ne 0 ]]; then
    echo "install: $1 is missing: run 'sudo apt-get install -y $2'" >&2; exit 1
  fi
  if [[ ! -f .run/apt-updated ]]; then
    apt-get update -qq || { echo "install: apt-get update failed: check the network to Debian's mirrors" >&2; exit 1; }
    mkdir -p .run && touch .run/apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null \
    || { echo "install: could not install $2: run 'apt-get install -y $2' and read its error" >&2; exit 1; }
}

command -v python3 >/dev/null || { echo "install: python3 (3.11 or newer) is missing: install it from your distribution" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install: Python 3.11 or newer is needed, found $(python3 --version)" >&2; exit 1; }

# One venv for the local stack, with the shared packages (services/common, services/testing) and
# the stack's own (tools: cotoami_stack) installed editable; each service still pins its own requirements.txt.
requirements=(requirements-dev.txt services/*/requirements.txt services/common/pyproject.toml tools/pyproject.toml services/testing/pyproject.toml)
stamp=.venv/.installed-$(cat "${requirements[@]}" | sha256sum | cut -c1-16)
if [[ ! -f $stamp ]]; then
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  args=()
  for file in requirements-dev.txt services/*/requirements.txt; do args+=(-r "$file"); done
  .venv/bin/pip install -q --disable-pip-version-check "${args[@]}" -e services/common -e services/testing -e tools \
    || { echo "install: pip could not install the requirements: see its error above" >&2; exit 1; }
  rm -f .venv/.installed-* && touch "$stamp"
fi

need nginx nginx
# The gateway's body deadline is Lua (access_by_lua in gateway/nginx/cotoami.conf.template).
[[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]] || apt_install "nginx's Lua module" libnginx-mod-http-lua
need psql postgresql-client
# node_modules (maildev; tsc and ESLint for the web client; markdown-it, whose build gateway/web/vendor/
# holds a copy of) follows package-lock.json:
# a changed lock installs again. npm ci empties node_modules first, old stamp included.
npm_stamp=node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)
if [[ ! -f $npm_stamp ]]; then
  command -v npm >/dev/null || { echo "install: npm is missing (for maildev, tsc and ESLint): run 'apt-get install -y nodejs npm'" >&2; exit 1; }
  npm ci --no-audit --no-fund --loglevel=error >/dev/null \
    || { echo "install: npm could not install package-lock.json: see its error above" >&2; exit 1; }
  touch "$npm_stamp"
fi

if [[ ${1:-} == --tests ]]; then
  need chromium chromium
  # The delivery linters live apart: checkov pins versions the services must not share.
  tools_stamp=.venv-tools/.installed-$(sha256sum requirements-tools.txt | cut -c1-16)
  if [[ ! -f $tools_stamp ]]; then
    [[ -x .venv-tools/bin/python ]] || python3 -m venv .venv-tools
    .venv-tools/bin/pip install -q --disable-pip-version-check -r requirements-tools.txt \
      || { echo "install: pip could not install the delivery linters: see its error above" >&2; exit 1; }
    rm -f .venv-tools/.installed-* && touch "$tools_stamp"
  fi
  command -v kubectl >/dev/null || { echo "install: kubectl is missing (for kubectl kustomize): install kubectl from your distribution or the Kubernetes release page" >&2; exit 1; }
fi

if [[ ${1:-} == --images ]]; then
  need podman podman
  need runc runc
  need debootstrap debootstrap
  # The pause process of a pod's infra container (`podman kube play`).
  need catatonit catatonit
  # crun (podman's default) refuses this kind of machine's hybrid cgroups, and a container may not
  # raise its limits above ours (no CAP_SYS_RESOURCE): runc, cgroupfs and limits within reach.
  conf=/etc/containers/containers.conf
  wanted=$'# Written by cotoami\'s tools/install.sh --images.\n[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
  if [[ ! -f $conf ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "install: $conf is missing: write it as root (see tools/install.sh --images)" >&2; exit 1; }
    mkdir -p /etc/containers && printf '%s' "$wanted" > "$conf"
  elif ! grep -q '^runtime = "runc"' "$conf"; then
    echo "install: $conf exists but does not choose runc: set runtime = \"runc\", cgroup_manager = \"cgroupfs\" and default_ulimits as tools/install.sh --images writes them" >&2
    exit 1
  fi
fi

if [[ ${1:-} == --bench ]]; then
  need wrk wrk
  # Its own stamp: the stack's reinstall (which clears .installed-*) leaves these alone.
  bench_stamp=.venv/.bench-installed-$(sha256sum bench/requirements.txt | cut -c1-16)
  if [[ ! -f $bench_stamp ]]; then
    .venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt \
      || { echo "install: pip could not install bench/requirements.txt: see its error above" >&2; exit 1; }
    rm -f .venv/.bench-installed-* && touch "$bench_stamp"
  fi
fi
