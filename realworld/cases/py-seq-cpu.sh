NAME="Python sequential chain"
LOAD="one dependent chain of pure-Python arithmetic (each step needs the last)"
EXPECT_MODEL=sequential
EXPECT_WARN=""
WHY="one chain of dependent steps: nothing to overlap, stay sequential"
run_case() { record python3 -c 'x=1
for i in range(6_000_000): x = (x * 1103515245 + 12345) % 2147483648
print(x)'; }
