NAME="GNU sort --parallel=2"
LOAD="sort a 96 MiB text file with 2 threads, 300 MiB buffer"
EXPECT_MODEL=threads
EXPECT_WARN=""
WHY="sort's threads sort the halves in parallel and merge; the final merge is sequential by design: keep the threads"
setup_case() { [ -s "$WORK/data.txt" ] || "$HERE/programs/make-data.sh" 96 "$WORK/data.txt"; }
run_case() { record sort --parallel=2 -S 300M -o "$WORK/sorted.txt" "$WORK/data.txt"; }
