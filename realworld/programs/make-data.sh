#!/usr/bin/env bash
# A compressible but not trivial text file of $1 MiB at $2 (words drawn from a dictionary by a
# seeded generator): what compressors chew on in the cases.
set -eu
python3 - "$1" "$2" <<'PY'
import random, sys
mb, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
with open(out, "w") as f:
    size = 0
    while size < mb << 20:
        line = " ".join(rng.choice(words) for _ in range(12)) + f" {rng.getrandbits(40)}\n"
        f.write(line)
        size += len(line)
PY
