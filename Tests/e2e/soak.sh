#!/usr/bin/env bash
# make soak: a memory soak of the real server (NOT part of make test). Thousands of runs and
# event streams, many cut off mid-stream, for SOAK_SECONDS (default 180); prints the RSS
# curve and exits non-zero when RSS keeps growing over the last third beyond a margin.
#   Tests/e2e/soak.sh PATH-TO-concurrency-lab [--seconds N] [--workers N] [--margin-mib N]
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:?usage: Tests/e2e/soak.sh PATH-TO-concurrency-lab [soak.py options]}
py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
exec $py Tests/e2e/soak.py --binary "$(realpath "$binary")" "${@:2}"
