import asyncio, time
async def handler(i):
    await asyncio.sleep(0.2)
    return i
async def blocking():
    time.sleep(0.3)
async def main():
    await asyncio.gather(*(handler(i) for i in range(200)), blocking())
asyncio.run(main())
