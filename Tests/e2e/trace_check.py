"""A structural check of a Chrome Trace Event format document (JSON Object Format), as Perfetto's
importer and chrome://tracing read it: the fields each phase needs and their types, counters
with numeric values, and complete events that nest on each thread (Perfetto drops one that
overlaps another on its thread without nesting). The Swift twin is
Tests/LabServerTests/TraceValidator.swift."""

PHASES = {"X", "i", "C", "M"}
METADATA = {"process_name", "thread_name", "thread_sort_index"}


def _event_issues(event):
    phase = event.get("ph")
    if phase not in PHASES:
        return [f"ph {phase!r} is not X, i, C or M"]
    issues = []
    if not isinstance(event.get("name"), str) or not event["name"]:
        issues.append("no name")
    if not isinstance(event.get("pid"), int) or not isinstance(event.get("tid"), int):
        issues.append("pid and tid must be integers")
    if phase != "M" and not (isinstance(event.get("ts"), int) and event["ts"] >= 0):
        issues.append("ts must be whole microseconds >= 0")
    if "args" in event and not isinstance(event["args"], dict):
        issues.append("args must be an object")
    if phase == "X" and not (isinstance(event.get("dur"), int) and event["dur"] >= 0):
        issues.append("a complete event needs dur >= 0")
    if phase == "i" and event.get("s", "t") not in ("t", "p", "g"):
        issues.append(f"instant scope {event.get('s')!r}")
    if phase == "C":
        values = list((event.get("args") or {}).values())
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            issues.append("a counter's args must be numbers")
    if phase == "M" and (event.get("name") not in METADATA or not isinstance(event.get("args"), dict)):
        issues.append("unknown metadata")
    return issues


def _nesting_issues(events):
    threads = {}
    for event in events:
        if event.get("ph") == "X":
            threads.setdefault(event["tid"], []).append((event["ts"], event["ts"] + event["dur"]))
    issues = []
    for tid, slices in threads.items():
        open_ends = []
        for start, end in sorted(slices, key=lambda s: (s[0], -s[1])):
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            if open_ends and end > open_ends[-1]:
                issues.append(f"thread {tid}: slices overlap without nesting")
            open_ends.append(end)
    return issues


def trace_issues(document):
    """What is wrong with `document`; empty when nothing is."""
    events = document.get("traceEvents") if isinstance(document, dict) else None
    if not isinstance(events, list):
        return ["no traceEvents array"]
    issues = []
    if document.get("displayTimeUnit", "ms") not in ("ms", "ns"):
        issues.append("displayTimeUnit")
    for index, event in enumerate(events):
        issues += [f"event {index} ({event.get('name')}): {issue}" for issue in _event_issues(event)]
    return issues + _nesting_issues(events)
