from multiprocessing import Pool
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
if __name__ == "__main__":
    with Pool(2) as p:
        print(sum(p.map(work, [300000]*8)))
