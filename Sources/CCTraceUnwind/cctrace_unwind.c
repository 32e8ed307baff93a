// cctrace_unwind.c — see cctrace_unwind.h for why libunwind is opened RTLD_LOCAL.
#define _GNU_SOURCE
#include "cctrace_unwind.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>

// `unw_backtrace` is a macro that names an architecture-specific symbol (e.g.
// `_Ux86_64_backtrace`); turn the macro into the string dlsym needs.
#define CCTRACE_STR2(x) #x
#define CCTRACE_STR(x) CCTRACE_STR2(x)

typedef int (*backtrace_fn)(void **, int);

static backtrace_fn backtrace_impl = 0;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
  static const char *const names[] = {"libunwind.so.8", "libunwind.so"};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    backtrace_impl = (backtrace_fn)dlsym(handle, CCTRACE_STR(unw_backtrace));
    if (backtrace_impl) return;
  }
}

int cctrace_unwind_load(void) {
  pthread_once(&load_once, load);
  return backtrace_impl != 0;
}

__attribute__((noinline)) int cctrace_backtrace(void **buffer, int max) {
  backtrace_fn fn = __atomic_load_n(&backtrace_impl, __ATOMIC_ACQUIRE);
  if (!fn || max <= 0) return 0;
  void *frames[max + 1];
  int n = fn(frames, max + 1);
  int out = 0;
  for (int i = 1; i < n; i++) buffer[out++] = frames[i];
  return out;
}

const char *cctrace_image_path(const void *address) {
  Dl_info info;
  if (!dladdr(address, &info)) return 0;
  return info.dli_fname;
}

void *cctrace_global_symbol(const char *symbol) { return dlsym(RTLD_DEFAULT, symbol); }
