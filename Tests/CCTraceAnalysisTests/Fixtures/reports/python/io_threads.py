import threading, time, socket
def fetch(i):
    for _ in range(10):
        time.sleep(0.02)
with __import__('concurrent.futures').futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(fetch, range(8)))
