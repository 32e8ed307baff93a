NAME="C read-write lock"
LOAD="4 threads; every other step takes the write lock for ~1 ms of computing"
EXPECT_MODEL=threads
EXPECT_WARN="lock-contention"
WHY="the threads queue on the write lock held across computing: shorten the critical section, keep threads"
setup_case() { command -v gcc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc) >/dev/null 2>&1; gcc -O2 -pthread "$HERE/programs/rwlock.c" -o "$WORK/rwlock"; }
run_case() { record "$WORK/rwlock"; }
