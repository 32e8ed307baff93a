# One dependent chain of pure-Python arithmetic: each step needs the last.
x = 1
for i in range(6_000_000):
    x = (x * 1103515245 + 12345) % 2147483648
print(x)
