"""The binary allocates with mimalloc, not glibc's malloc (Package.swift links it; README,
"Memory allocator"). Linked after libc, or dropped from the link, it would load and do nothing,
and only the server's CPU per run would tell: so the dynamic linker is asked where malloc and
free bind, and a running server's mappings must hold the library. The server's log says which
allocator it runs on and the option it sets (the decommit delay).
"""

import os
import re
import subprocess

from reliab import BINARY, needs_binary, start_lab, terminate

pytestmark = needs_binary


def test_malloc_and_free_bind_to_mimalloc():
    result = subprocess.run([BINARY, "--version"], env={**os.environ, "LD_DEBUG": "bindings"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    # The dynamic linker writes each binding's "binding file A [n] to B [n]: normal symbol `S'"
    # in one write, and its version (" [GLIBC_2.2.5]" and the newline) in a second: two threads
    # binding at once (libdispatch's `close` and `free`, seen on CI) interleave their records
    # within a line. So the records are matched in the whole text, not line by line.
    targets = {}
    for match in re.finditer(r"binding file \S+ \[\d+\] to (\S+) \[\d+\]: normal symbol `(malloc|free)'",
                             result.stderr):
        targets.setdefault(match.group(2), set()).add(match.group(1))
    assert set(targets) == {"malloc", "free"}, "no binding of malloc or free was reported"
    for symbol, libraries in targets.items():
        assert all("libmimalloc" in library for library in libraries), f"{symbol} binds to {libraries}"


def test_a_running_server_has_mimalloc_mapped_and_says_how_it_is_set():
    lab = start_lab("allocator")
    try:
        maps = open(f"/proc/{lab.process.pid}/maps").read()
        assert "libmimalloc" in maps
    finally:
        assert terminate(lab) == 0
    log = lab.log_path.read_text()
    assert re.search(r"allocator: mimalloc \d+\.\d+\.\d+, decommit delay 1000 ms", log), log[-2000:]
