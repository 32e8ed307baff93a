import threading, queue, time
q = queue.Queue()
def consumer():
    while True:
        item = q.get()
        if item is None: break
        time.sleep(0.002)
ts = [threading.Thread(target=consumer) for _ in range(3)]
for t in ts: t.start()
for i in range(60):
    q.put(i); time.sleep(0.003)
for t in ts: q.put(None)
for t in ts: t.join()
