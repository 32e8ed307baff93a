import threading, time
lock = threading.Lock()
cache = {}
def refresh(k):
    with lock:
        time.sleep(0.005)
        cache[k] = k * 2
def worker(i):
    for j in range(20):
        refresh(j)
ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
