#!/usr/bin/env python3
"""Fails when an `import` crosses an arrow ARCHITECTURE.md forbids, or is not declared.

    scripts/check-architecture.py        # run by `make test`; exit 1 with every violation

Two checks over every Swift file of every target in Package.swift (read with
`swift package dump-package`):
- the module graph: each module of ours imports only the modules of ours its row in ALLOWED
  names (so LabJSON imports nothing of ours, Runs knows no HTTP, MicroHTTP knows no run), and
  a few libraries stay inside the one module that owns them (EXCLUSIVE);
- Package.swift declares every import: a target imports only itself, the toolchain's modules
  and the dependencies its entry lists.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What each module of ours may import of ours: the arrows. Everything else of ours is forbidden.
ALLOWED = {
    "LabJSON": set(),
    "MicroHTTP": {"CMicroHTTPD"},
    "Patterns": {"CConcurrencyHooks", "LabJSON"},
    "Runs": {"LabJSON", "Patterns"},
    "PostgresStore": {"LabJSON", "Patterns", "Runs"},
    "LabServer": {"LabJSON", "MicroHTTP", "Patterns", "Runs"},
    "ConcurrencyLabCLI": {"CMimalloc", "LabJSON", "LabServer", "MicroHTTP", "Patterns", "PostgresStore", "Runs"},
}
OURS = set(ALLOWED) | {"CMicroHTTPD", "CConcurrencyHooks", "CMimalloc", "TestSupport", "MicroHTTPBench"}
# Libraries one module owns: C libmicrohttpd, the databases (SQLite; PostgreSQL and the NIO it
# brings), the metrics backend, the CLI parser, debounce and throttle; the runtime hook that
# routes global jobs is virtual time's (Patterns) alone.
EXCLUSIVE = {
    "CMicroHTTPD": "MicroHTTP", "GRDB": "Runs", "GRDBSQLite": "Runs", "PostgresNIO": "PostgresStore", "NIO": "PostgresStore",
    "NIOCore": "PostgresStore", "NIOPosix": "PostgresStore", "NIOSSL": "PostgresStore", "Prometheus": "LabServer",
    "CoreMetrics": "LabServer", "Metrics": "LabServer", "ArgumentParser": "ConcurrencyLabCLI",
    "AsyncAlgorithms": "Patterns", "CConcurrencyHooks": "Patterns", "CMimalloc": "ConcurrencyLabCLI",
}
TOOLCHAIN = {"Foundation", "FoundationEssentials", "Glibc", "Darwin", "Dispatch", "Synchronization", "Testing",
             "XCTest", "_Concurrency"}
# Products whose modules go by other names.
PRODUCT_MODULES = {"Metrics": {"Metrics", "CoreMetrics"}}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+)?import\s+(?:(?:struct|class|enum|func|protocol)\s+)?(\w+)", re.M)


def targets():
    package = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout)
    for target in package["targets"]:
        if target["type"] == "system":
            continue
        default = "Tests" if target["type"] == "test" else "Sources"
        path = ROOT / (target.get("path") or f"{default}/{target['name']}")
        declared = {target["name"]}
        for dependency in target["dependencies"]:
            kind, value = next(iter(dependency.items()))
            name = value[0]
            declared |= PRODUCT_MODULES.get(name, {name}) if kind == "product" else {name}
        yield target["name"], path, declared


def violations():
    for name, path, declared in targets():
        for source in sorted(path.rglob("*.swift")):
            relative = source.relative_to(ROOT)
            for module in IMPORT.findall(source.read_text()):
                if module in TOOLCHAIN:
                    continue
                if module not in declared:
                    yield f"{relative}: imports {module}, which Package.swift does not declare for {name}"
                if name in ALLOWED and module in OURS and module != name and module not in ALLOWED[name]:
                    yield f"{relative}: {name} -> {module} is an arrow ARCHITECTURE.md forbids"
                owner = EXCLUSIVE.get(module)
                if name in ALLOWED and owner and owner != name:
                    yield f"{relative}: {module} belongs to {owner} alone"


def main():
    found = list(violations())
    for line in found:
        print(line, file=sys.stderr)
    if found:
        sys.exit(f"check-architecture: {len(found)} import(s) cross the architecture (see ARCHITECTURE.md)")
    print("check-architecture: every import follows the arrows and is declared")


if __name__ == "__main__":
    main()
