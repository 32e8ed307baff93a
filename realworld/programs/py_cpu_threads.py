# Four threads of pure-Python arithmetic: the GIL runs one at a time.
import threading

def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s

ts = [threading.Thread(target=work, args=(2_500_000,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("done")
