# multiprocessing.Pool moving large payloads for little work: pickling and pipes cost more
# than the computation they feed.
import multiprocessing as mp

def work(block):
    return sum(block[::4096])

if __name__ == "__main__":
    blocks = [bytes(range(256)) * 8192 for _ in range(120)]  # 2 MiB each
    with mp.Pool(2) as pool:
        print(sum(pool.map(work, blocks, chunksize=1)))
