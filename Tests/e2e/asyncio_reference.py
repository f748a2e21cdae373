"""Runs a tutorial's asyncio program as it is, in CPython, on an event loop whose clock is
virtual, and reports what it did: each printed line with the (virtual) time it was printed,
how long the program took, the largest number of items an asyncio.Queue held, and the
exception the program ended with, if any.

The loop is asyncio's own selector loop; only its clock differs: whenever nothing is ready,
time jumps to the next timer (Trio's autojump). So `await asyncio.sleep(0.5)` takes no real
time, timers fire in asyncio's own order, and the figures are exact, the program's ideal.
A program waiting for a real thread (run_in_executor) waits for it really, and that time
is added to the clock.
"""

import asyncio
import contextlib
import io
import selectors
import time


class _JumpingSelector:
    """A real selector that never waits for a timer: told to wait `timeout` seconds with
    nothing ready, it moves the loop's clock by that much instead."""

    def __init__(self, loop):
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout=None):
        events = self._real.select(0)
        if events:
            return events
        if timeout is None:
            # Nothing scheduled: the loop waits for a thread (run_in_executor) to call back.
            # That wait is real, and is added to the clock as it passed.
            started = time.monotonic()
            events = self._real.select(None)
            self._loop.virtual_now += time.monotonic() - started
        elif timeout > 0:
            self._loop.virtual_now += timeout
        return events

    def __getattr__(self, name):
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self.virtual_now = 0.0
        super().__init__(selector=_JumpingSelector(self))

    def time(self):
        return self.virtual_now


class _Policy(asyncio.DefaultEventLoopPolicy):
    def __init__(self):
        super().__init__()
        self.loops = []

    def new_event_loop(self):
        loop = VirtualTimeLoop()
        self.loops.append(loop)
        return loop


class _StampedOutput(io.TextIOBase):
    """stdout for the program: every line with the loop time it was printed at."""

    def __init__(self, policy):
        self.lines = []
        self._policy = policy
        self._pending = ""

    def write(self, text):
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            now = self._policy.loops[-1].virtual_now if self._policy.loops else 0.0
            self.lines.append((round(now * 1000, 3), line))
        return len(text)


def run(source, name="tutorial"):
    """Runs `source` (a program that calls asyncio.run) and returns what it observed."""
    policy = _Policy()
    output = _StampedOutput(policy)
    peak = {"items": 0}
    original_put = asyncio.Queue._put

    def counting_put(queue, item):
        original_put(queue, item)
        # The None sentinel is not an item: the lab's queue is shut down instead.
        peak["items"] = max(peak["items"], sum(1 for each in queue._queue if each is not None))

    previous_policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(policy)
    asyncio.Queue._put = counting_put
    error = None
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(source, name, "exec"), {"__name__": "__tutorial__"})
    except BaseException as raised:  # the program's own end, e.g. an uncaught TimeoutError
        error = type(raised).__name__
    finally:
        asyncio.Queue._put = original_put
        asyncio.set_event_loop_policy(previous_policy)
    elapsed = policy.loops[-1].virtual_now if policy.loops else 0.0
    return {"lines": output.lines, "elapsed_ms": round(elapsed * 1000, 3), "queue_peak": peak["items"], "error": error}
