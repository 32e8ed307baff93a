NAME="make -j2"
LOAD="builds 24 C files (each ~0.2 s of gcc -O2) with make -j2"
EXPECT_MODEL=processes
EXPECT_WARN=""
WHY="make runs a compiler process per file, two at a time on two cores: a process pool, keep"
setup_case() {
  command -v gcc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc make) >/dev/null 2>&1
  mkdir -p "$WORK/build" && cd "$WORK/build" || return 1
  for i in $(seq 1 24); do
    python3 - "$i" > "f$i.c" <<'PY'
import sys
i = int(sys.argv[1])
print("#include <stdint.h>")
for k in range(60):
    print(f"uint64_t f{i}_{k}(uint64_t x) {{ for (int j = 0; j < 64; j++) x = x * {k + 3} + (x >> {k % 13 + 1}) ^ {i * 7919 + k}; return x; }}")
PY
  done
  printf 'OBJS=%s\nall: $(OBJS)\n%%.o: %%.c\n\tgcc -O2 -c $< -o $@\nclean:\n\trm -f *.o\n' "$(for i in $(seq 1 24); do printf 'f%d.o ' "$i"; done)" > Makefile
}
run_case() { cd "$WORK/build" && make clean >/dev/null && record make -j2 -s; }
