def parse(n):
    return [i * 7 % 1000 for i in range(n)]
def transform(xs):
    return sorted(x * x for x in xs)
def summarize(xs):
    s = 0
    for x in xs:
        s = (s * 31 + x) % 1000003
    return s
print(summarize(transform(parse(30000))))
