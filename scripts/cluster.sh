#!/usr/bin/env bash
# `make cluster`: a throwaway PostgreSQL under .data/cluster/postgres, three instances on
# 127.0.0.1:8081-8083 sharing it, and nginx (deploy/nginx.conf) on 127.0.0.1:8080 in front of them.
# Prints where everything is; Ctrl-C stops all of it, by the PIDs it started (the database's data
# stays under .data/cluster for the next time).
#   scripts/cluster.sh [BINARY]     default .build/release/concurrency-lab
# LEASE_SECONDS (default 10) and CLUSTER_MAX_RUNS (default: no cluster bound) pass on to the instances.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
binary=${1:-.build/release/concurrency-lab}
dir=.data/cluster
mkdir -p "$dir/nginx"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "cluster: nginx is missing (scripts/install-deps.sh test installs it)" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

pids=()
stopping=0
stop_all() {
  [ "$stopping" -eq 1 ] && return
  stopping=1
  echo
  echo "cluster: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/throwaway-postgres.sh stop "$dir/postgres" >/dev/null 2>&1 || true
  echo "cluster: stopped (logs in $dir)"
}
trap stop_all EXIT
trap 'interrupted=1; exit 130' INT TERM

url=$(scripts/throwaway-postgres.sh start "$dir/postgres")
flags=(--lease-seconds "${LEASE_SECONDS:-10}")
[ -n "${CLUSTER_MAX_RUNS:-}" ] && flags+=(--cluster-max-concurrent-runs "$CLUSTER_MAX_RUNS")
for port in 8081 8082 8083; do
  "$binary" serve --host 127.0.0.1 --port "$port" --db "$url" --instance-name "cluster-$port" "${flags[@]}" \
    >"$dir/instance-$port.log" 2>&1 &
  pids+=($!)
done
"$nginx_bin" -p "$root/$dir/nginx" -c "$root/deploy/nginx.conf" -e stderr -g 'daemon off;' >"$dir/nginx.log" 2>&1 &
pids+=($!)

for port in 8081 8082 8083 8080; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "cluster: 127.0.0.1:$port did not come up (see $dir)" >&2; exit 1; }
done
redacted=$(echo "$url" | sed -E 's#://([^:]+):[^@]*@#://\1:***@#')
cat <<INFO
cluster: up
  nginx        http://127.0.0.1:8080/            (deploy/nginx.conf; log $dir/nginx.log)
  instances    http://127.0.0.1:8081/ 8082/ 8083/ (logs $dir/instance-PORT.log; lease ${LEASE_SECONDS:-10} s)
  PostgreSQL   $redacted (data $dir/postgres; password in $dir/postgres/password)
  PIDs         ${pids[*]} (instances, then nginx)
Ctrl-C stops all of it.
INFO
wait -n "${pids[@]}" || true
[ "${interrupted:-0}" = 1 ] || echo "cluster: a process ended on its own (see $dir); stopping the rest" >&2
