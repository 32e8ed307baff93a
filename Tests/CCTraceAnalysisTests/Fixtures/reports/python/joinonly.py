import threading, time
def fetch(i):
    time.sleep(0.2)
ts = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
