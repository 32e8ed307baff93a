# CPython's ThreadingHTTPServer (a thread per connection) with a handler that waits 20 ms for a
# backend per request (or, with `cpu`, computes ~5 ms in Python); serves until the load is done.
import http.server, sys, threading, time, urllib.request

PORT = int(sys.argv[1])
CPU = len(sys.argv) > 2 and sys.argv[2] == "cpu"  # the handler computes instead of waiting

def compute():
    x = 0
    for i in range(60000):  # ~5 ms of Python arithmetic
        x = (x * 31 + i) % 1000003
    return x

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        if CPU:
            compute()
        else:
            time.sleep(0.02)  # the backend
        body = b"hello\n" * 20
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
server_done = threading.Event()
def shutdown_on_stdin():
    sys.stdin.read()
    server.shutdown()
    server_done.set()
threading.Thread(target=shutdown_on_stdin, daemon=True).start()
server_done.wait()
print("done")
