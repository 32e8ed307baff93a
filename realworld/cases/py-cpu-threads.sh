NAME="Python CPU threads"
LOAD="4 threads of pure-Python arithmetic"
EXPECT_MODEL=processes
EXPECT_WARN="cpu-serialized"
WHY="the GIL serializes Python bytecode: a process pool runs them in parallel"
run_case() { record python3 "$HERE/programs/py_cpu_threads.py"; }
