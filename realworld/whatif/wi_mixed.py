"""What-if validation, mixed Python: each item computes ~8 ms (pure Python) then waits 30 ms
(time.sleep, standing for a call to another service). 4 workers x 15 items under --model
sequential|threads|processes|async (4 asyncio tasks, the waits awaited, the CPU on the loop);
prints wall_ms=."""
import argparse, asyncio, sys, time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

WORKERS, ITEMS, WAIT = 4, 15, 0.03


def compute(seed):
    x = seed
    for i in range(60000):
        x = (x * 1103515245 + 12345 + i) & 0xFFFFFFFF
    return x


def work_item(seed):
    x = compute(seed)
    time.sleep(WAIT)
    return x


async def awork_item(seed):
    x = compute(seed)
    await asyncio.sleep(WAIT)
    return x


def run_worker(w):
    return sum(work_item(w * 1000 + j) for j in range(ITEMS)) & 0xFFFF


async def arun_worker(w):
    t = 0
    for j in range(ITEMS):
        t += await awork_item(w * 1000 + j)
    return t & 0xFFFF


async def run_async():
    return sum(await asyncio.gather(*(arun_worker(w) for w in range(WORKERS))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="threads", choices=["sequential", "threads", "processes", "async"])
    model = ap.parse_args().model
    start = time.monotonic()
    if model == "sequential":
        total = sum(run_worker(w) for w in range(WORKERS))
    elif model == "async":
        total = asyncio.run(run_async())
    else:
        pool = (ThreadPoolExecutor if model == "threads" else ProcessPoolExecutor)(max_workers=WORKERS)
        with pool:
            total = sum(pool.map(run_worker, range(WORKERS)))
    print("wall_ms=%d model=%s" % ((time.monotonic() - start) * 1000, model))
    print("checksum", total, file=sys.stderr)


if __name__ == "__main__":
    main()
