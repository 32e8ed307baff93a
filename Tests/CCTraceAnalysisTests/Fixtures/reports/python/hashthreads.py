import hashlib, threading
data = b"x" * (8 << 20)
def work():
    for _ in range(6):
        hashlib.sha256(data).digest()
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
