import asyncio
async def handler(i):
    await asyncio.sleep(0.05)
    s = 0
    for k in range(8000):
        s += k
    return s
async def main():
    for _ in range(3):
        await asyncio.gather(*(handler(i) for i in range(30)))
asyncio.run(main())
