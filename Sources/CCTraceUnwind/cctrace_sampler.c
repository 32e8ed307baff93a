// cctrace_sampler.c — see cctrace_sampler.h.
#define _GNU_SOURCE
#include "cctrace_sampler.h"
#include "cctrace_cfi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

// A ring slot: the sample's header, the interrupted registers and a copy of the top of the
// interrupted stack (`stack_bytes` long; slots are `slot_stride` apart).
typedef struct {
  uint32_t state;   // 0 empty, 1 being written, 2 ready
  uint32_t length;  // stack bytes copied
  uint64_t base;    // the interrupted rsp
  uint64_t registers[CCTRACE_CFI_REGS];
  cctrace_sample sample;  // frames are filled when drained
  uint8_t stack[];
} slot_t;

static uint8_t *ring = 0;
static size_t slot_stride = 0;
static uint32_t stack_bytes = 0;
static uint32_t ring_mask = 0;
static uint32_t ring_head = 0;
static uint64_t ring_dropped = 0;
static int sample_depth = 32;
static int installed = 0;
static int can_copy = 0;

static inline slot_t *slot_at(uint32_t i) { return (slot_t *)(ring + (size_t)i * slot_stride); }

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Copies up to `length` bytes at `address` of this process into `out`; returns the bytes
// copied, stopping at the first unmapped page (the end of the thread's stack) without a fault.
static long copy_memory(void *out, uint64_t address, size_t length) {
  struct iovec local = {out, length};
  struct iovec remote = {(void *)(uintptr_t)address, length};
  return syscall(SYS_process_vm_readv, (long)syscall(SYS_getpid), &local, 1UL, &remote, 1UL, 0UL);
}

// The SIGPROF handler. It runs on the interrupted thread, at any instruction of any code —
// inside malloc, the loader, a lock's slow path — so it calls nothing that can take a lock,
// allocate or touch lazily allocated thread-local storage. What it calls, and why each is
// async-signal-safe:
// - clock_gettime(CLOCK_MONOTONIC): listed async-signal-safe by POSIX; the vDSO reads
//   shared memory only.
// - syscall(SYS_gettid), syscall(SYS_getpid): plain system calls (getpid is listed).
// - syscall(SYS_process_vm_readv): a system call; the kernel copies the stack and stops at the
//   first unmapped page, so reading past the top of the stack returns short instead of
//   faulting. No user-space state is involved.
// - __atomic builtins on the preallocated ring (mmap'd at install): lock-free.
// errno is saved and restored. No unwinding happens here: the writer unwinds the copy later
// (cctrace_cfi.c), where the loader's lock and the unwind tables can be used safely.
static void on_sigprof(int signo, siginfo_t *info, void *context) {
  (void)signo;
  int saved = errno;
  uint64_t start = now_ns();
  uint32_t index = __atomic_fetch_add(&ring_head, 1, __ATOMIC_RELAXED) & ring_mask;
  slot_t *s = slot_at(index);
  uint32_t expected = 0;
  if (!__atomic_compare_exchange_n(&s->state, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    __atomic_fetch_add(&ring_dropped, 1, __ATOMIC_RELAXED);
    errno = saved;
    return;
  }
  s->sample.tid = (int32_t)syscall(SYS_gettid);
  s->sample.kind = info && info->si_code == SI_TIMER ? 0 : 1;
  s->sample.timestamp = start;
  s->sample.depth = 0;
  s->length = 0;
  s->base = 0;
  memset(s->registers, 0, sizeof s->registers);
  if (context) {
    const greg_t *g = ((const ucontext_t *)context)->uc_mcontext.gregs;
    s->registers[0] = (uint64_t)g[REG_RIP];
    s->registers[1] = (uint64_t)g[REG_RSP];
    s->registers[2] = (uint64_t)g[REG_RBP];
    s->registers[3] = (uint64_t)g[REG_RBX];
    s->registers[4] = (uint64_t)g[REG_R12];
    s->registers[5] = (uint64_t)g[REG_R13];
    s->registers[6] = (uint64_t)g[REG_R14];
    s->registers[7] = (uint64_t)g[REG_R15];
    s->base = s->registers[1];
    if (can_copy) {
      long n = copy_memory(s->stack, s->base, stack_bytes);
      s->length = n > 0 ? (uint32_t)n : 0;
    }
  }
  s->sample.cost = now_ns() - start;
  __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
  errno = saved;
}

int cctrace_sampler_install(int depth, int capacity, int bytes) {
  if (installed) return 1;
  struct sigaction old;
  if (sigaction(SIGPROF, 0, &old) != 0) return 0;
  if ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != 0 : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
    return 0;
  if (capacity < 64) capacity = 64;
  uint32_t cap = 1;
  while (cap < (uint32_t)capacity) cap <<= 1;
  if (bytes < 1024) bytes = 1024;
  if (bytes > 1 << 20) bytes = 1 << 20;
  stack_bytes = (uint32_t)bytes;
  slot_stride = (sizeof(slot_t) + stack_bytes + 63) & ~(size_t)63;
  size_t total = slot_stride * cap;
  // Reserved up front, touched only as slots are used: the handler never allocates.
  void *memory = mmap(0, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (memory == MAP_FAILED) return 0;
  ring = (uint8_t *)memory;
  ring_mask = cap - 1;
  sample_depth = depth < 1 ? 1 : depth > CCTRACE_SAMPLE_MAX_DEPTH ? CCTRACE_SAMPLE_MAX_DEPTH : depth;
  // Whether the kernel lets us copy our own memory (a seccomp profile may forbid
  // process_vm_readv): without it samples keep only the interrupted instruction.
  uint64_t probe = 0x5a5a5a5a5a5a5a5aull, copy = 0;
  can_copy = copy_memory(&copy, (uint64_t)(uintptr_t)&probe, sizeof probe) == (long)sizeof probe && copy == probe;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_sigprof;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGPROF, &action, 0) != 0) return 0;
  __atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
  return 1;
}

int cctrace_sampler_installed(void) { return __atomic_load_n(&installed, __ATOMIC_ACQUIRE); }

// MARK: - Per-thread timers (touched only by the writer thread)

#define MAX_TIMERS 1024
static struct {
  int tid;
  timer_t timer;
  int seen;
} timers[MAX_TIMERS];
static int timer_count = 0;
static long timer_period = 0;

static void delete_timer(int i) {
  timer_delete(timers[i].timer);
  timers[i] = timers[--timer_count];
}

int cctrace_sampler_sync_threads(long period_ns, int exclude_tid) {
  if (!installed) return 0;
  if (period_ns != timer_period) {
    while (timer_count > 0) delete_timer(timer_count - 1);
    timer_period = period_ns;
  }
  if (period_ns <= 0) return 0;
  for (int i = 0; i < timer_count; i++) timers[i].seen = 0;
  DIR *dir = opendir("/proc/self/task");
  if (!dir) return timer_count;
  struct dirent *entry;
  while ((entry = readdir(dir)) != 0) {
    int tid = atoi(entry->d_name);
    if (tid <= 0 || tid == exclude_tid) continue;
    int known = -1;
    for (int i = 0; i < timer_count; i++)
      if (timers[i].tid == tid) {
        known = i;
        break;
      }
    if (known >= 0) {
      timers[known].seen = 1;
      continue;
    }
    if (timer_count == MAX_TIMERS) continue;
    // The thread's CPU clock (Linux: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)).
    clockid_t clock = (clockid_t)((~(unsigned)tid << 3) | 6);
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = SIGPROF;
    event._sigev_un._tid = tid;
    timer_t timer;
    if (timer_create(clock, &event, &timer) != 0) continue;
    struct itimerspec spec;
    spec.it_interval.tv_sec = period_ns / 1000000000L;
    spec.it_interval.tv_nsec = period_ns % 1000000000L;
    spec.it_value = spec.it_interval;
    if (timer_settime(timer, 0, &spec, 0) != 0) {
      timer_delete(timer);
      continue;
    }
    timers[timer_count].tid = tid;
    timers[timer_count].timer = timer;
    timers[timer_count].seen = 1;
    timer_count++;
  }
  closedir(dir);
  for (int i = timer_count - 1; i >= 0; i--)
    if (!timers[i].seen) delete_timer(i);
  return timer_count;
}

int cctrace_sampler_capture(int tid) {
  if (!installed) return 0;
  return syscall(SYS_tgkill, getpid(), tid, SIGPROF) == 0;
}

typedef struct {
  cctrace_sample *out;
  int max;
  int n;
} drain_t;

static void drain_body(void *context) {
  drain_t *d = context;
  for (uint32_t i = 0; i <= ring_mask && d->n < d->max; i++) {
    slot_t *s = slot_at(i);
    if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2) continue;
    cctrace_sample *o = &d->out[d->n++];
    *o = s->sample;
    cctrace_cfi_stack stack = {(uintptr_t)s->base, s->length, s->stack, {0}};
    memcpy(stack.registers, s->registers, sizeof stack.registers);
    o->depth = (int16_t)(s->registers[0] ? cctrace_cfi_unwind(&stack, o->frames, sample_depth) : 0);
    __atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
  }
}

int cctrace_sampler_drain(cctrace_sample *out, int max) {
  if (!ring) return 0;
  drain_t d = {out, max, 0};
  cctrace_cfi_with_images(drain_body, &d);
  return d.n;
}

uint64_t cctrace_sampler_dropped(void) { return __atomic_load_n(&ring_dropped, __ATOMIC_RELAXED); }

/// Reads /proc/self/task/TID/NAME into `buffer` (NUL-terminated); the length, or ≤ 0.
static ssize_t read_task_file(int tid, const char *name, char *buffer, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t len = read(fd, buffer, size - 1);
  close(fd);
  if (len > 0) buffer[len] = 0;
  return len;
}

char cctrace_thread_state(int tid, long *syscall_number, uint64_t *pc) {
  char buffer[512];
  *syscall_number = -1;
  *pc = 0;
  if (read_task_file(tid, "stat", buffer, sizeof buffer) <= 0) return 0;
  // "tid (comm) S ...": the state follows the last ')'.
  char *close_paren = strrchr(buffer, ')');
  if (!close_paren || close_paren[1] != ' ') return 0;
  char state = close_paren[2];
  if (state != 'R' && read_task_file(tid, "syscall", buffer, sizeof buffer) > 0) {
    // "nr arg1 … arg6 sp pc", or "running".
    char *end;
    long nr = strtol(buffer, &end, 10);
    if (end != buffer) {
      *syscall_number = nr;
      char *last = strrchr(buffer, ' ');
      if (last) *pc = strtoull(last + 1, 0, 16);
    }
  }
  return state;
}

// MARK: - Stacks of blocked threads

#include <link.h>

typedef struct {
  uint64_t start[64];
  uint64_t end[64];
  int count;
} text_ranges;

static int collect_text(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  text_ranges *r = data;
  for (int i = 0; i < info->dlpi_phnum && r->count < 64; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    r->start[r->count] = info->dlpi_addr + ph->p_vaddr;
    r->end[r->count] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    r->count++;
  }
  return 0;
}

static int in_text(const text_ranges *r, uint64_t a) {
  for (int i = 0; i < r->count; i++)
    if (a >= r->start[i] + 8 && a < r->end[i]) return 1;
  return 0;
}

/// Whether the bytes before `a` (in a text mapping) end with a call instruction on x86-64.
static int follows_call(uint64_t a) {
#if defined(__x86_64__)
  const uint8_t *p = (const uint8_t *)(uintptr_t)a;
  if (p[-5] == 0xE8) return 1;                                    // call rel32
  if (p[-2] == 0xFF && (p[-1] & 0xF8) == 0xD0) return 1;          // call *%reg
  if (p[-3] == 0x41 && p[-2] == 0xFF && (p[-1] & 0xF8) == 0xD0) return 1;  // call *%r8-15
  if (p[-3] == 0xFF && (p[-2] & 0xF8) == 0x50) return 1;          // call *disp8(%reg)
  if (p[-4] == 0xFF && p[-3] == 0x54) return 1;                   // call *disp8(%reg,SIB)
  if (p[-6] == 0xFF && (p[-5] == 0x15 || (p[-5] & 0xF8) == 0x90)) return 1;  // rip / disp32
  if (p[-7] == 0xFF && p[-6] == 0x94) return 1;                   // call *disp32(SIB)
  if (p[-2] == 0xFF && (p[-1] & 0xF8) == 0x10) return 1;          // call *(%reg)
  return 0;
#else
  (void)a;
  return 1;
#endif
}

int cctrace_blocked_stack(int tid, uint64_t *out, int max) {
  char buffer[512];
  if (read_task_file(tid, "syscall", buffer, sizeof buffer) <= 0) return 0;
  // "nr a1 … a6 sp pc"; "running" or "-1 sp pc" otherwise.
  char *end;
  long nr = strtol(buffer, &end, 10);
  if (end == buffer || nr < 0) return 0;
  char *last = strrchr(buffer, ' ');
  if (!last || last == buffer) return 0;
  uint64_t pc = strtoull(last + 1, 0, 16);
  *last = 0;
  char *before = strrchr(buffer, ' ');
  if (!before) return 0;
  uint64_t sp = strtoull(before + 1, 0, 16);
  if (sp == 0) return 0;
  text_ranges ranges = {.count = 0};
  dl_iterate_phdr(collect_text, &ranges);
  int n = 0;
  if (pc && n < max) out[n++] = pc + 1;  // as a return address: symbolizers look one byte back
  // 16 KiB of stack, page by page: a read stops at the first unmapped page.
  enum { PAGES = 4, PAGE = 4096 };
  static __thread uint64_t words[PAGES * PAGE / 8];
  struct iovec local = {words, sizeof words};
  struct iovec remote[PAGES];
  uint64_t base = sp & ~(uint64_t)7;
  uint64_t next_page = (base + PAGE) & ~(uint64_t)(PAGE - 1);
  remote[0].iov_base = (void *)(uintptr_t)base;
  remote[0].iov_len = next_page - base;
  size_t total = remote[0].iov_len;
  for (int i = 1; i < PAGES; i++) {
    remote[i].iov_base = (void *)(uintptr_t)(next_page + (uint64_t)(i - 1) * PAGE);
    remote[i].iov_len = PAGE;
    total += PAGE;
  }
  if (total > sizeof words) remote[PAGES - 1].iov_len -= total - sizeof words;
  ssize_t got = process_vm_readv(getpid(), &local, 1, remote, PAGES, 0);
  if (got <= 0) return n;
  for (size_t i = 0; i < (size_t)got / 8 && n < max; i++) {
    uint64_t w = words[i];
    if (in_text(&ranges, w) && follows_call(w)) out[n++] = w;
  }
  return n;
}
