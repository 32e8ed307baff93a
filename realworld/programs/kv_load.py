# Load for memcached: 8 connections doing set/get over the text protocol for N seconds.
import socket, sys, threading, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
deadline = time.time() + seconds

def conn(k):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    i = 0
    while time.time() < deadline:
        key = f"k{k}_{i % 500}".encode()
        s.sendall(b"set " + key + b" 0 0 100\r\n" + b"v" * 100 + b"\r\n")
        f.readline()
        s.sendall(b"get " + key + b"\r\n")
        f.readline(); f.readline(); f.readline()
        i += 1
    s.close()

for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError:
        time.sleep(0.1)
ts = [threading.Thread(target=conn, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
