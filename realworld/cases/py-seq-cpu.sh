NAME="Python sequential chain"
LOAD="one dependent chain of pure-Python arithmetic (each step needs the last)"
EXPECT_MODEL=sequential
EXPECT_WARN=""
WHY="one chain of dependent steps: nothing to overlap, stay sequential"
run_case() { record python3 "$HERE/programs/py_seq_cpu.py"; }
