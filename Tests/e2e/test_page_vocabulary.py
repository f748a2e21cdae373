"""The page speaks the server's vocabulary: it names no event the server does not emit, and
it listens for every event the server does.

What the server emits comes from Tests/e2e/fixture/server.json, recorded from the real server
by scripts/gen-e2e-fixture.py (run.sh checks it is fresh first). Renaming an event in Swift
therefore fails the fixture check until the fixture is regenerated, then this test until
public/js follows. No browser: the page's sources are read as text.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURE = json.loads((ROOT / "Tests" / "e2e" / "fixture" / "server.json").read_text())
SOURCES = sorted((ROOT / "public").rglob("*.js"))
# A quoted dotted name ('task.finished'), which is how the page spells event names.
DOTTED = re.compile(r"""['"`]([a-z_]+(?:\.[a-z_]+)+)['"`]""")


def catalog_events():
    return {entry["name"]: set(entry["events"]) for entry in FIXTURE["catalog"]["patterns"]}


def emitted():
    """Every event name the server emitted in the recorded runs and at shutdown."""
    names = {frame["event"] for run in FIXTURE["runs"] for frame in run["events"]}
    return names | {FIXTURE["vocabulary"]["last_event_at_shutdown"]}


def common_events():
    """COMMON_EVENTS in public/js/stream.js: what the page listens for on every run."""
    text = (ROOT / "public" / "js" / "stream.js").read_text()
    match = re.search(r"export const COMMON_EVENTS = \[(.*?)\];", text, re.S)
    assert match, "public/js/stream.js no longer declares COMMON_EVENTS"
    return set(re.findall(r"'([^']+)'", match.group(1)))


def test_every_event_the_page_names_is_one_the_server_emits():
    named = {name for source in SOURCES for name in DOTTED.findall(source.read_text())} | common_events()
    declared = set().union(*catalog_events().values())
    assert named - emitted() - declared == set(), "public/js names events the server never emits"


def test_the_page_listens_for_every_event_the_server_emits():
    common, declared = common_events(), catalog_events()
    for run in FIXTURE["runs"]:
        unheard = {frame["event"] for frame in run["events"]} - common - declared[run["pattern"]]
        assert unheard == set(), f"{run['pattern']} emits events the page does not listen for"
    assert FIXTURE["vocabulary"]["last_event_at_shutdown"] in common


def test_the_fixture_covers_every_pattern_in_the_catalog():
    assert {run["pattern"] for run in FIXTURE["runs"]} == set(catalog_events())
