# Four threads that hold one threading.Lock while computing: contention on the lock, not
# the GIL, is what serializes them (narrowing the lock lets them overlap the rest).
import threading, hashlib

lock = threading.Lock()
state = {"n": 0}

def work(rounds):
    for i in range(rounds):
        with lock:
            h = hashlib.sha256(str(i).encode() * 2000).digest()  # releases the GIL, not the lock
            state["n"] += h[0]
        hashlib.sha256(b"x" * 20000).digest()

ts = [threading.Thread(target=work, args=(3000,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(state["n"] > 0)
