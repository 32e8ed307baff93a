NAME="C read-write lock"
LOAD="4 threads; every other step takes the write lock for ~1 ms of computing"
EXPECT_MODEL=threads
EXPECT_WARN="lock-contention"
WHY="the threads queue on the write lock held across computing: shorten the critical section, keep threads"
setup_case() { gcc -O2 -pthread "$HERE/programs/rwlock.c" -o "$WORK/rwlock"; }
run_case() { record "$WORK/rwlock"; }
