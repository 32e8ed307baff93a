// cctrace_sampler.c — see cctrace_sampler.h.
#define _GNU_SOURCE
#include "cctrace_sampler.h"
#include "cctrace_unwind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

typedef struct {
  uint32_t state;  // 0 empty, 1 being written, 2 ready
  uint32_t pad;
  cctrace_sample sample;
} slot_t;

static slot_t *ring = 0;
static uint32_t ring_mask = 0;
static uint32_t ring_head = 0;
static uint64_t ring_dropped = 0;
static int sample_depth = 32;
static int installed = 0;

typedef int (*backtrace_fn)(void **, int);
static backtrace_fn unwind = 0;

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_sigprof(int signo, siginfo_t *info, void *context) {
  (void)signo;
  int saved = errno;
  uint64_t start = now_ns();
  uint32_t index = __atomic_fetch_add(&ring_head, 1, __ATOMIC_RELAXED) & ring_mask;
  slot_t *s = &ring[index];
  uint32_t expected = 0;
  if (!__atomic_compare_exchange_n(&s->state, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    __atomic_fetch_add(&ring_dropped, 1, __ATOMIC_RELAXED);
    errno = saved;
    return;
  }
  s->sample.tid = (int32_t)syscall(SYS_gettid);
  s->sample.kind = info && info->si_code == SI_TIMER ? 0 : 1;
  s->sample.timestamp = start;
  int n = unwind(s->sample.frames, sample_depth);
  if (n < 0) n = 0;
  // Start the stack at the interrupted instruction: drop this handler and the signal
  // trampoline (an unexported libc symbol no symbolizer names).
  void *pc = context ? (void *)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP] : 0;
  int first = 0;
  for (int i = 0; i < n; i++)
    if (s->sample.frames[i] == pc) {
      first = i;
      break;
    }
  if (first > 0) {
    for (int i = first; i < n; i++) s->sample.frames[i - first] = s->sample.frames[i];
    n -= first;
  }
  s->sample.depth = (int16_t)n;
  s->sample.cost = now_ns() - start;
  __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
  errno = saved;
}

int cctrace_sampler_install(int depth, int capacity) {
  if (installed) return 1;
  if (!cctrace_unwind_load()) return 0;
  unwind = (backtrace_fn)cctrace_unwind_function();
  if (!unwind) return 0;
  struct sigaction old;
  if (sigaction(SIGPROF, 0, &old) != 0) return 0;
  if ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != 0 : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
    return 0;
  if (capacity < 64) capacity = 64;
  uint32_t cap = 1;
  while (cap < (uint32_t)capacity) cap <<= 1;
  size_t bytes = sizeof(slot_t) * cap;
  void *memory = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 0;
  ring = (slot_t *)memory;
  ring_mask = cap - 1;
  sample_depth = depth < 1 ? 1 : depth > CCTRACE_SAMPLE_MAX_DEPTH ? CCTRACE_SAMPLE_MAX_DEPTH : depth;
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

int cctrace_sampler_drain(cctrace_sample *out, int max) {
  if (!ring) return 0;
  int n = 0;
  for (uint32_t i = 0; i <= ring_mask && n < max; i++) {
    slot_t *s = &ring[i];
    if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2) continue;
    out[n++] = s->sample;
    __atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
  }
  return n;
}

uint64_t cctrace_sampler_dropped(void) { return __atomic_load_n(&ring_dropped, __ATOMIC_RELAXED); }

char cctrace_thread_state(int tid, long *syscall_number, uint64_t *pc) {
  char path[64];
  char buffer[512];
  *syscall_number = -1;
  *pc = 0;
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t len = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (len <= 0) return 0;
  buffer[len] = 0;
  // "tid (comm) S ...": the state follows the last ')'.
  char *close_paren = strrchr(buffer, ')');
  if (!close_paren || close_paren[1] != ' ') return 0;
  char state = close_paren[2];
  if (state != 'R') {
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      len = read(fd, buffer, sizeof buffer - 1);
      close(fd);
      if (len > 0) {
        buffer[len] = 0;
        // "nr arg1 … arg6 sp pc", or "running".
        char *p = buffer;
        char *end;
        long nr = strtol(p, &end, 10);
        if (end != p) {
          *syscall_number = nr;
          char *last = strrchr(buffer, ' ');
          if (last) *pc = strtoull(last + 1, 0, 16);
        }
      }
    }
  }
  return state;
}
