#!/usr/bin/env bash
# `make bench` / `make bench-quick`: runs Benchmarks/run.py in the repo's .venv (uvloop).
# usage: Benchmarks/run.sh full|quick
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$root/.venv/bin/python"
[ -x "$py" ] || { echo "run.sh: no .venv; run scripts/install-deps.sh bench" >&2; exit 1; }
exec "$py" "$root/Benchmarks/run.py" "${1:-quick}"
