#!/usr/bin/env bash
# Runs the e2e suite against the given server binary: the browser and contract tests
# against the real server, then the few browser tests that need the mock server's
# deliberate faults (dropped streams, no streams) against the mock.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:?usage: Tests/e2e/run.sh PATH-TO-concurrency-lab}
py=.venv/bin/python
echo "e2e: openapi.yaml is valid and up to date with the catalog"
$py -c "import yaml; from openapi_spec_validator import validate; validate(yaml.safe_load(open('openapi.yaml')))"
PATH="$PWD/.venv/bin:$PATH" $py scripts/gen-openapi.py "$binary" --check
echo "e2e: against the real server ($binary)"
LAB_BINARY="$(realpath "$binary")" $py -m pytest -q -m "not mock_only" Tests/e2e "${@:2}"
echo "e2e: page fault handling against the mock server"
env -u LAB_BINARY $py -m pytest -q -m mock_only Tests/e2e "${@:2}"
