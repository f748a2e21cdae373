#!/usr/bin/env bash
# Builds the plain C reference servers (hello, the SSE broadcaster) and the clients into .build-bench/ (git-ignored).
# usage: Benchmarks/reference/build.sh   -> .build-bench/hello, .build-bench/hello_ext, .build-bench/sse_client, .build-bench/sse_server,
#                                           .build-bench/accept_burst
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build-bench"
mkdir -p "$out"
gcc -O2 -Wall -Wextra -Werror -pthread -o "$out/hello" "$root/Benchmarks/reference/hello.c" \
  $(pkg-config --cflags --libs libmicrohttpd)
gcc -O2 -Wall -Wextra -Werror -pthread -DEXTERNAL_ACCEPT -o "$out/hello_ext" "$root/Benchmarks/reference/hello.c" \
  $(pkg-config --cflags --libs libmicrohttpd)
gcc -O2 -Wall -Wextra -Werror -o "$out/sse_client" "$root/Benchmarks/reference/sse_client.c"
gcc -O2 -Wall -Wextra -Werror -pthread -o "$out/sse_server" "$root/Benchmarks/reference/sse_server.c"
gcc -O2 -Wall -Wextra -Werror -o "$out/accept_burst" "$root/Benchmarks/reference/accept_burst.c"
echo "built $out/hello $out/hello_ext $out/sse_client $out/sse_server $out/accept_burst"
