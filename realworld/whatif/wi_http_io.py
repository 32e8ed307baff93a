"""What-if validation, I/O-bound Python: 64 HTTP/1.0 GET requests to a local http.server (the
standard library's ThreadingHTTPServer, started as a separate process that is not traced)
answering each after 20 ms. The same request bytes and the same reading of the reply in every
model: --model sequential (one after another) | threads (a pool of os.cpu_count() threads,
blocking sockets) | async (asyncio streams, all at once); prints wall_ms=."""
import argparse, asyncio, os, socket, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

REQUESTS, DELAY = 64, 0.02

SERVER = r'''
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(%f)
        body = b"x" * 512
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(ThreadingHTTPServer):
    request_queue_size = 256
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
''' % DELAY


def request(i):
    return b"GET /item/%d HTTP/1.0\r\nHost: localhost\r\n\r\n" % i


def fetch(port, i):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request(i))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return len(data)


async def afetch(port, i):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request(i))
    await writer.drain()
    data = await reader.read()
    writer.close()
    return len(data)


async def run_async(port):
    return sum(await asyncio.gather(*(afetch(port, i) for i in range(REQUESTS))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sequential", choices=["sequential", "threads", "async"])
    model = ap.parse_args().model
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCTRACE_") and k != "LD_PRELOAD"}
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, env=env, text=True)
    port = int(server.stdout.readline())
    try:
        start = time.monotonic()
        if model == "sequential":
            total = sum(fetch(port, i) for i in range(REQUESTS))
        elif model == "threads":
            with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
                total = sum(pool.map(lambda i: fetch(port, i), range(REQUESTS)))
        else:
            total = asyncio.run(run_async(port))
        print("wall_ms=%d model=%s" % ((time.monotonic() - start) * 1000, model))
        print("bytes", total, file=sys.stderr)
    finally:
        server.kill()


if __name__ == "__main__":
    main()
