# viztracer: --log_async
# An asyncio gather of 30 coroutines; one in ten calls a synchronous function that sleeps 150 ms
# (it blocks the loop). Recorded with per-task rows: the rows are tasks, not threads.
import asyncio, time, json

async def handle(i):
    for _ in range(5):
        await asyncio.sleep(0.01)          # I/O stand-in
        json.dumps({"i": i, "v": list(range(50))})
    if i % 10 == 3:
        render_report(i)                   # a synchronous call inside a coroutine

def render_report(i):
    time.sleep(0.15)                       # blocks the loop

async def main():
    await asyncio.gather(*(handle(i) for i in range(30)))

asyncio.run(main())
