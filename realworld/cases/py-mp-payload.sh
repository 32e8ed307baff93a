NAME="Pool with large payloads"
LOAD="multiprocessing.Pool(2).map over 120 blocks of 2 MiB, a few µs of work each"
EXPECT_MODEL=sequential
EXPECT_WARN="ipc-overhead"
WHY="pickling and piping 240 MiB costs far more than the work: do it in one process"
run_case() { record python3 "$HERE/programs/mp_payload.py"; }
