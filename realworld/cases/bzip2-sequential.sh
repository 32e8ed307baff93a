NAME="bzip2"
LOAD="compresses 24 MiB of text (bzip2 is single-threaded)"
EXPECT_MODEL=threads
EXPECT_WARN=""
WHY="one CPU-bound thread compressing independent 900 kB blocks: spread the blocks over threads (what pbzip2 does), about 2x on 2 cores"
setup_case() { command -v bzip2 >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bzip2) >/dev/null 2>&1; [ -s "$WORK/data.txt" ] || "$HERE/programs/make-data.sh" 96 "$WORK/data.txt"; head -c 25165824 "$WORK/data.txt" > "$WORK/data24.txt"; }
run_case() { record bzip2 -k -f -c "$WORK/data24.txt" > "$WORK/data.bz2"; }
