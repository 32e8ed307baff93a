# A multiprocessing.Queue (maxsize 4) moving 60 payloads of 4 MiB to one consumer process while
# the main thread computes: the feeder thread pickles, so other threads' acquires wait for the
# GIL, and Queue.put waits for space — neither is lock contention.
# multiprocessing.Queue moving large payloads to a worker; the main thread also does Python work
import multiprocessing as mp, threading

def consumer(q, out):
    n = 0
    while True:
        item = q.get()
        if item is None: break
        n += len(item)
    out.put(n)

if __name__ == "__main__":
    q, out = mp.Queue(maxsize=4), mp.Queue()
    p = mp.Process(target=consumer, args=(q, out)); p.start()
    for i in range(60):
        q.put(bytes(range(256)) * 16384)  # 4 MiB each: the feeder thread pickles and writes
        s = 0
        for k in range(20000): s += k  # Python work on the main thread meanwhile
    q.put(None)
    print(out.get()); p.join()
