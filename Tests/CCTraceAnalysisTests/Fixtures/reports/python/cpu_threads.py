import threading
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
def chunk(k):
    for _ in range(40):
        work(20000)
ts = [threading.Thread(target=chunk, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
