# 8 client threads doing GET / for N seconds.
import sys, threading, time, urllib.request
port, seconds = int(sys.argv[1]), float(sys.argv[2])
for _ in range(50):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/").read(); break
    except OSError:
        time.sleep(0.1)
deadline = time.time() + seconds
def go():
    while time.time() < deadline:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/").read()
ts = [threading.Thread(target=go) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
