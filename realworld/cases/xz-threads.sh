NAME="xz -T2"
LOAD="compresses 24 MiB of text at level 6 with 2 threads (blocks of 4 MiB)"
EXPECT_MODEL=threads
EXPECT_WARN=""
WHY="xz's threads compress independent blocks in parallel: keep threads"
setup_case() { command -v xz >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xz-utils) >/dev/null 2>&1; [ -s "$WORK/data.txt" ] || "$HERE/programs/make-data.sh" 96 "$WORK/data.txt"; head -c 25165824 "$WORK/data.txt" > "$WORK/data24.txt"; }
run_case() { record xz -T2 --block-size=4MiB -6 -k -f -c "$WORK/data24.txt" > "$WORK/data.xz"; }
