# 8 connections doing SET/GET over RESP for N seconds, one more running a slow Lua script
# every 0.5 s; then SHUTDOWN NOSAVE. No client library: the protocol by hand.
import socket, sys, threading, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])

def connect():
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis did not start")

def command(sock, *parts):
    msg = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    sock.sendall(msg)
    data = b""
    while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2 and not data.startswith(b"$-1")):
        chunk = sock.recv(65536)
        if not chunk:
            break  # closed (SHUTDOWN)
        data += chunk
    return data

connect().close()
deadline = time.time() + seconds
def kv(i):
    s = connect()
    while time.time() < deadline:
        command(s, b"SET", b"k%d" % i, b"v" * 100)
        command(s, b"GET", b"k%d" % i)
def slow():
    s = connect()
    script = b"local x = 0 for i = 1, 50000000 do x = x + i end return x"
    while time.time() < deadline:
        command(s, b"EVAL", script, b"0")
        time.sleep(0.5)
ts = [threading.Thread(target=kv, args=(i,)) for i in range(8)] + [threading.Thread(target=slow)]
for t in ts: t.start()
for t in ts: t.join()
s = connect()
try:
    command(s, b"SHUTDOWN", b"NOSAVE")
except OSError:
    pass
