from multiprocessing import Pool
def first(b):
    return b[0]
if __name__ == "__main__":
    data = [bytes(4_000_000) for _ in range(24)]
    with Pool(2) as p:
        print(sum(p.map(first, data)))
