from concurrent.futures import ThreadPoolExecutor
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
with ThreadPoolExecutor(4) as ex:
    print(sum(ex.map(fib, [15] * 8)))
