#!/usr/bin/env bash
# Runs the e2e suite (Tests/e2e/test_*.py) against the given server binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:?usage: Tests/e2e/run.sh PATH-TO-concurrency-lab}
shopt -s nullglob
tests=(Tests/e2e/test_*.py)
if ((${#tests[@]} == 0)); then
  echo "e2e: no e2e tests yet"
  exit 0
fi
LAB_BINARY="$(realpath "$binary")" .venv/bin/python -m pytest -q Tests/e2e "${@:2}"
