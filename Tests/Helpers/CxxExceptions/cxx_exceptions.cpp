#include "cxx_exceptions.h"

#include <stdexcept>

namespace {
__attribute__((noinline)) int thrower(int depth) {
  if (depth <= 0) throw std::runtime_error("cctrace test");
  return thrower(depth - 1) + 1;
}
}  // namespace

extern "C" int cctrace_test_throw_and_catch(int rounds, int depth) {
  int caught = 0;
  for (int i = 0; i < rounds; i++) {
    try {
      (void)thrower(depth);
    } catch (const std::runtime_error &) {
      caught++;
    }
  }
  return caught;
}
