"""What the replay tests need beside page.py: a run's events as the server gives them, the state
at an instant computed from those events alone (the reference the page is held to), and the
page's own account of the instant it shows."""

import json

import requests

from page import all_css, css, tid, wait

STRUCTURAL = {"run.started", "task.started", "progress", "run.finished",
              "task.finished", "task.failed", "task.cancelled", "task.timeout"}
TASK_ENDS = {"task.finished", "task.failed", "task.cancelled", "task.timeout"}


def run_events(base_url, run_id):
    """The finished run's events, [(id, name, data)], read from GET /runs/{id}/events."""
    response = requests.get(f"{base_url}/runs/{run_id}/events", headers={"Accept": "text/event-stream"},
                            stream=True, timeout=60)
    assert response.status_code == 200, response.status_code
    events, frame = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "data" in frame:
                events.append((int(frame.get("id", 0)), frame.get("event", "message"), json.loads(frame["data"])))
                if frame.get("event") == "run.finished":
                    break
            frame = {}
        elif not line.startswith(":") and ":" in line:
            field, value = line.split(":", 1)
            frame[field] = value[1:] if value.startswith(" ") else value
    response.close()
    return events


def event_times(events):
    """Each event's time as the page orders them: the log's order is the truth, so a time
    stamped a hair earlier than the event before it counts as that one's."""
    last, times = 0.0, []
    for _, name, data in events:
        t = data.get("t_ms") if name != "run.finished" else None
        last = max(t, last) if isinstance(t, (int, float)) else last
        times.append(last)
    return times


def state_at(events, counters, instant):
    """The run at `instant` ms, from its events alone: tasks started and running, pattern
    events so far, each counter's value (None before any event carried it), tasks completed."""
    started, ended, markers, progress = set(), set(), 0, 0
    values = {name: None for name in counters}
    for (_, name, data), t in zip(events, event_times(events)):
        if name == "run.finished" or t > instant:
            continue
        if name == "task.started":
            started.add(data["task"])
        elif name in TASK_ENDS:
            ended.add(data["task"])
        elif name == "progress":
            progress = data["completed"]
        elif name not in STRUCTURAL:
            markers += 1
        for counter in counters:
            if isinstance(data.get(counter), (int, float)):
                values[counter] = data[counter]
    return {"started": len(started), "running": len(started - ended), "markers": markers,
            "completed": max(progress, len(ended)), "counters": values}


def wait_for_replay(driver, run_id, timeout=60):
    """Waits until the run's panel has read its event log and offers the replay."""
    wait(driver, timeout).until(lambda d: css(d, f'{tid("run-panel")}[data-run-id="{run_id}"]')
                                .get_attribute("data-replay-ready-ms"))
    return css(driver, f'{tid("run-panel")}[data-run-id="{run_id}"]')


def scrub(driver, instant):
    """Moves the scrubber to `instant` as a person dragging it would (an input event)."""
    driver.execute_script("""
        const scrubber = document.querySelector('[data-testid="replay-scrubber"]');
        scrubber.value = String(arguments[0]);
        scrubber.dispatchEvent(new Event('input', {bubbles: true}));
    """, instant)


def shown_state(driver, panel=None):
    """The instant the page shows and what it says about it."""
    panel = panel or css(driver, tid("run-panel"))
    counters = {item.get_attribute("data-counter"): item.get_attribute("data-value")
                for item in all_css(panel, f'{tid("counters")} [data-counter]')}
    drawn = {group.get_attribute("data-counter"): group.get_attribute("data-value")
             for group in all_css(panel, ".tl-counter")}
    number = lambda text: None if text in (None, "") else float(text)  # noqa: E731
    return {
        "t": float(panel.get_attribute("data-shown-t")),
        "started": int(panel.get_attribute("data-started")),
        "running": int(panel.get_attribute("data-running")),
        "markers": int(panel.get_attribute("data-markers")),
        "completed": int(css(panel, tid("progress")).get_attribute("data-completed")),
        "counters": {name: number(value) for name, value in counters.items()},
        "drawn": {name: number(value) for name, value in drawn.items()},
    }


def screenshot(driver, element, path):
    """The whole element, however tall: the window grows to the page for the picture."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, full + 120), 6000))
    try:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
        element.screenshot(str(path))
    finally:
        driver.set_window_size(width, height)
