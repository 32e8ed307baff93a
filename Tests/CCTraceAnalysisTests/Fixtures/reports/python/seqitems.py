def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
results = [work(20000) for _ in range(100)]
print(len(results))
