"""Python peers for `make bench`: asyncio or uvloop doing what the service's patterns do.

usage: peer.py asyncio|uvloop gather N DELAY_MS
       peer.py asyncio|uvloop semaphore N LIMIT DELAY_MS
       peer.py asyncio|uvloop producer-consumer ITEMS MAXSIZE PRODUCERS CONSUMERS
Prints one JSON line with wall_ms (and items_per_second for producer-consumer).
"""
import asyncio
import json
import sys
import time


async def gather(n, delay_ms):
    d = delay_ms / 1000

    async def task(i):
        await asyncio.sleep(d)
        return i

    t0 = time.perf_counter()
    results = await asyncio.gather(*(task(i) for i in range(n)))
    wall = time.perf_counter() - t0
    assert results == list(range(n))
    return {"wall_ms": wall * 1000}


async def semaphore(n, limit, delay_ms):
    d = delay_ms / 1000
    sem = asyncio.Semaphore(limit)

    async def task():
        async with sem:
            await asyncio.sleep(d)

    t0 = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(n)))
    return {"wall_ms": (time.perf_counter() - t0) * 1000}


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
    coro = {"gather": gather, "semaphore": semaphore, "producer-consumer": producer_consumer}[mode](*args)
    if loop_kind == "uvloop":
        import uvloop
        out = uvloop.run(coro)
    else:
        out = asyncio.run(coro)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
