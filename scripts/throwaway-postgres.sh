#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests and the bench: never a database the machine
# already had. It lives in one folder (data, socket, log, password) and listens on 127.0.0.1 only.
#
#   scripts/throwaway-postgres.sh start DIR [PORT]   initdb into DIR (first time only) and start on
#                                                    PORT (a free one by default); prints the URL of
#                                                    its superuser `lab` (password in DIR/password)
#   scripts/throwaway-postgres.sh stop DIR           stop the server of DIR, by the PID it wrote
#   scripts/throwaway-postgres.sh run CMD [ARGS...]  start one in a new temporary folder, run CMD with
#                                                    LAB_TEST_POSTGRES_URL set to its URL, stop it and
#                                                    remove the folder; exits with CMD's status
#
# PostgreSQL refuses to run as root: as root, the server runs as the system user `postgres` (Debian's
# package makes it) or, without one, `concurrency-lab-pg` (made here). DIR and its parents must be
# reachable by that user (a folder made by `mktemp -d` in /tmp is: this script gives it to the user).
# PG_OPTIONS adds server settings (`-c name=value ...`); the tests' default turns fsync off.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin=/usr/lib/postgresql/15/bin

ensure_installed() {
  if [ ! -x "$bin/initdb" ]; then
    "$root/scripts/install-deps.sh" postgres >&2
  fi
}

server_user() {
  if [ "$(id -u)" -ne 0 ]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    id concurrency-lab-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin concurrency-lab-pg
    echo concurrency-lab-pg
  fi
}

as_user() {
  local user=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir port user
  dir=$(realpath "${1:?usage: $0 start DIR [PORT]}")
  port=${2:-$(free_port)}
  ensure_installed
  user=$(server_user)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir"; fi
  chmod 700 "$dir"
  if ! as_user "$user" test -w "$dir"; then
    echo "throwaway-postgres: $user cannot write $dir (a parent folder is closed to it)" >&2
    exit 1
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    local password
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    (umask 077; echo "$password" >"$dir/password")
    [ "$(id -u)" -ne 0 ] || chown "$user" "$dir/password"
    as_user "$user" "$bin/initdb" -D "$dir/data" -U lab --pwfile="$dir/password" -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  # shellcheck disable=SC2086
  as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 ${PG_OPTIONS--c fsync=off -c full_page_writes=off -c synchronous_commit=off}" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgresql://lab:$(cat "$dir/password")@127.0.0.1:$port/postgres?sslmode=disable"
}

stop() {
  local dir pid
  dir=$(realpath "${1:?usage: $0 stop DIR}")
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pid=$(head -1 "$dir/data/postmaster.pid")
  kill -INT "$pid" 2>/dev/null || return 0   # fast shutdown: ends sessions, then exits
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "throwaway-postgres: $pid did not stop within 30 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

run_dir=""
cleanup() {
  [ -n "$run_dir" ] || return 0
  stop "$run_dir"
  rm -rf "$run_dir"
}

run() {
  local url status
  run_dir=$(mktemp -d /tmp/concurrency-lab-pg.XXXXXX)
  trap cleanup EXIT
  url=$(start "$run_dir")
  echo "throwaway-postgres: PostgreSQL on ${url%%\?*} (folder $run_dir)" | sed 's#lab:[^@]*@#lab@#' >&2
  status=0
  LAB_TEST_POSTGRES_URL="$url" "$@" || status=$?
  return "$status"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 start DIR [PORT] | stop DIR | run CMD [ARGS...]" >&2; exit 2 ;;
esac
