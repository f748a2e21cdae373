"""Python peers for `make bench`: asyncio or uvloop doing what the service's patterns do.

usage: peer.py asyncio|uvloop|asyncio-virtual gather N DELAY_MS
       peer.py asyncio|uvloop|asyncio-virtual gather-jitter N DELAY_MS JITTER_MS SEED
       peer.py asyncio|uvloop|asyncio-virtual semaphore N LIMIT DELAY_MS
       peer.py asyncio|uvloop producer-consumer ITEMS MAXSIZE PRODUCERS CONSUMERS
Prints one JSON line with wall_ms (real time), loop_ms (the loop's own time: simulated on
asyncio-virtual) and, for producer-consumer, items_per_second.

asyncio-virtual is asyncio's own event loop with a virtual clock (VirtualClockLoop): the
scheduler, timer heap and tasks are asyncio's; only time() and the selector's wait differ.
"""
import asyncio
import json
import random
import selectors
import sys
import time


class JumpingSelector(selectors.DefaultSelector):
    """Polls for I/O without waiting; where the loop would have waited `timeout` seconds for
    its next timer, moves the loop's clock by that much instead (autojump, threshold 0)."""

    def __init__(self, advance):
        super().__init__()
        self._advance = advance

    def select(self, timeout=None):
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            raise RuntimeError("deadlock: nothing is ready and no timer is scheduled")
        self._advance(timeout)
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose time() is virtual: it stands still while callbacks are ready and
    jumps to the next scheduled callback when none is."""

    def __init__(self):
        self._virtual_now = 0.0
        super().__init__(selector=JumpingSelector(self._jump))

    def _jump(self, seconds):
        self._virtual_now += seconds

    def time(self):
        return self._virtual_now


def clocks():
    """(real start, loop start): what every program measures from."""
    return time.perf_counter(), asyncio.get_running_loop().time()


def elapsed(start):
    real0, loop0 = start
    return {"wall_ms": (time.perf_counter() - real0) * 1000,
            "loop_ms": (asyncio.get_running_loop().time() - loop0) * 1000}


async def gather(n, delay_ms):
    d = delay_ms / 1000

    async def task(i):
        await asyncio.sleep(d)
        return i

    start = clocks()
    results = await asyncio.gather(*(task(i) for i in range(n)))
    out = elapsed(start)
    assert results == list(range(n))
    return out


async def gather_jitter(n, delay_ms, jitter_ms, seed):
    """gather with each task's extra delay drawn from the seed, as the service's gather."""
    rng = random.Random(seed)
    delays = [(delay_ms + rng.randint(0, jitter_ms)) / 1000 for _ in range(n)]

    async def task(i):
        await asyncio.sleep(delays[i])
        return i

    start = clocks()
    results = await asyncio.gather(*(task(i) for i in range(n)))
    out = elapsed(start)
    assert results == list(range(n))
    return out


async def semaphore(n, limit, delay_ms):
    d = delay_ms / 1000
    sem = asyncio.Semaphore(limit)

    async def task():
        async with sem:
            await asyncio.sleep(d)

    start = clocks()
    await asyncio.gather(*(task() for _ in range(n)))
    return elapsed(start)


async def producer_consumer(items, maxsize, producers, consumers):
    q = asyncio.Queue(maxsize)
    consumed = [0] * consumers
    per = [items // producers + (1 if i < items % producers else 0) for i in range(producers)]

    async def produce(k):
        for i in range(per[k]):
            await q.put(i)

    async def consume(k):
        c = 0
        while True:
            item = await q.get()
            if item is None:
                break
            c += 1
        consumed[k] = c

    t0 = time.perf_counter()
    cs = [asyncio.create_task(consume(k)) for k in range(consumers)]
    await asyncio.gather(*(produce(k) for k in range(producers)))
    for _ in range(consumers):
        await q.put(None)
    await asyncio.gather(*cs)
    wall = time.perf_counter() - t0
    assert sum(consumed) == items
    return {"wall_ms": wall * 1000, "items_per_second": items / wall}


def main():
    loop_kind, mode, *rest = sys.argv[1:]
    args = [int(a) for a in rest]
    programs = {"gather": gather, "gather-jitter": gather_jitter, "semaphore": semaphore,
                "producer-consumer": producer_consumer}
    coro = programs[mode](*args)
    if loop_kind == "uvloop":
        import uvloop
        out = uvloop.run(coro)
    elif loop_kind == "asyncio-virtual":
        with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
            out = runner.run(coro)
    else:
        out = asyncio.run(coro)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
