import socket, threading
from concurrent.futures import ThreadPoolExecutor
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
port = srv.getsockname()[1]
def serve():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
def handle(c):
    while True:
        d = c.recv(64)
        if not d: break
        import time; time.sleep(0.001)
        c.sendall(d)
threading.Thread(target=serve, daemon=True).start()
def client(i):
    s = socket.create_connection(("127.0.0.1", port))
    for _ in range(100):
        s.sendall(b"x" * 64); s.recv(64)
    s.close()
with ThreadPoolExecutor(4) as ex:
    list(ex.map(client, range(4)))
