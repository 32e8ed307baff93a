# An asyncio TCP server whose handler makes a synchronous call (time.sleep standing for a
# blocking SDK) for some requests, under load from a client in another process.
import asyncio, os, socket, sys, time, multiprocessing as mp

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 18765

async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line: break
        if line.startswith(b"slow"):
            time.sleep(0.15)  # the blocking call inside the loop
        else:
            await asyncio.sleep(0.002)
        writer.write(b"ok\n")
        await writer.drain()
    writer.close()

def client(n):
    time.sleep(0.3)
    socks = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(8)]
    for i in range(n):
        s = socks[i % 8]
        s.sendall(b"slow\n" if i % 10 == 0 else b"fast\n")
        s.recv(16)
    for s in socks: s.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT)
    p = mp.get_context("fork").Process(target=client, args=(120,))
    p.start()
    while p.is_alive():
        await asyncio.sleep(0.05)
    server.close()
    print("done")

asyncio.run(main())
