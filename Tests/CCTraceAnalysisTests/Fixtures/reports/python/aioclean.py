import asyncio
async def client(i):
    await asyncio.sleep(0.3)
    return i * 2
async def main():
    r = await asyncio.gather(*(client(i) for i in range(150)))
    print(sum(r))
asyncio.run(main())
