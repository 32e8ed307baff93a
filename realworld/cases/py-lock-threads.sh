NAME="Python threads on one lock"
LOAD="4 threads hashing (GIL released) while holding one threading.Lock"
EXPECT_MODEL=threads
EXPECT_WARN="lock-contention"
WHY="the hashing releases the GIL but not the lock: the lock is the bottleneck; narrow it and keep threads"
run_case() { record python3 "$HERE/programs/py_lock_threads.py"; }
