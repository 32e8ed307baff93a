from multiprocessing import Pool
def inc(x):
    return x + 1
if __name__ == "__main__":
    with Pool(2) as p:
        print(sum(p.map(inc, range(400), chunksize=1)))
