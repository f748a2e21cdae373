#!/usr/bin/env bash
# Runs the e2e suite against the given server binary: first that openapi.yaml and the mock's
# fixture still say what the server says, then the browser and contract tests against the
# real server (the few fault tests start the mock, which replays the fixture, themselves).
# The multi-instance tests need PostgreSQL: without LAB_TEST_POSTGRES_URL, the suite runs under a
# throwaway server of its own (scripts/throwaway-postgres.sh), removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:?usage: Tests/e2e/run.sh PATH-TO-concurrency-lab}
if [ -z "${LAB_TEST_POSTGRES_URL:-}" ]; then
  exec scripts/throwaway-postgres.sh run "$0" "$@"
fi
py=.venv/bin/python
echo "e2e: openapi.yaml is valid and up to date with the catalog"
$py -c "import yaml; from openapi_spec_validator import validate; validate(yaml.safe_load(open('openapi.yaml')))"
PATH="$PWD/.venv/bin:$PATH" $py scripts/gen-openapi.py "$binary" --check
echo "e2e: Tests/e2e/fixture/server.json is up to date with the server"
$py scripts/gen-e2e-fixture.py "$binary" --check
# Most tests run on E2E_WORKERS pytest-xdist workers (default 2), a test file per worker at a time
# (a file's servers start once); the ones marked serial (SERIAL_MODULES in conftest.py: they
# restart PostgreSQL, let leases lapse, exhaust descriptors or wait out timeouts) run alone after.
# Exit status 5 is "no test selected", which arguments naming one file make of a phase.
export LAB_BINARY="$(realpath "$binary")"
status=0
echo "e2e: against the real server ($binary), on ${E2E_WORKERS:-2} workers"
$py -m pytest -q -n "${E2E_WORKERS:-2}" --dist loadfile -m "not serial" Tests/e2e "${@:2}" || status=$?
[ "$status" = 5 ] && status=0
echo "e2e: the tests that run alone"
serial=0
$py -m pytest -q -p no:xdist -m serial Tests/e2e "${@:2}" || serial=$?
[ "$serial" = 5 ] && serial=0
exit $(( status != 0 ? status : serial ))
