NAME="SQLite, 4 writer processes"
LOAD="4 processes × 40 transactions of 50 inserts into one database file (synchronous=FULL)"
EXPECT_MODEL=sequential
EXPECT_WARN="lock-contention"
WHY="the writers take turns on the database's lock and wait for fsync; more writers add only contention: one writer (batch the inserts)"
run_case() { record python3 "$HERE/programs/sqlite_writers.py" "$WORK/db.sqlite"; }
