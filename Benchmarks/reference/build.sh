#!/usr/bin/env bash
# Builds the plain C reference server into .build-bench/ (git-ignored).
# usage: Benchmarks/reference/build.sh   -> .build-bench/hello
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build-bench"
mkdir -p "$out"
gcc -O2 -Wall -Wextra -Werror -o "$out/hello" "$root/Benchmarks/reference/hello.c" \
  $(pkg-config --cflags --libs libmicrohttpd)
echo "built $out/hello"
