from concurrent.futures import ProcessPoolExecutor
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
if __name__ == "__main__":
    with ProcessPoolExecutor(2) as ex:
        print(sum(ex.map(work, [400000] * 8)))
