// cctrace_native.c — thread-local state, exit hooks, load-time start and fatal-signal flush.
#define _GNU_SOURCE
#include "cctrace_native.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread cctrace_thread_state *cctrace_tls_state = 0;
__thread uint32_t cctrace_tls_tid = 0;
__thread int cctrace_tls_watch = 0;
cctrace_watch cctrace_watches[CCTRACE_MAX_WATCHES];
int cctrace_watch_count = 0;

int cctrace_watch_allocate(int32_t tid) {
  int i = __atomic_fetch_add(&cctrace_watch_count, 1, __ATOMIC_ACQ_REL);
  if (i >= CCTRACE_MAX_WATCHES) {
    __atomic_store_n(&cctrace_watch_count, CCTRACE_MAX_WATCHES, __ATOMIC_RELEASE);
    return -1;
  }
  cctrace_watches[i].tid = tid;
  return i + 1;
}
volatile int cctrace_enabled_flag = 0;
int cctrace_use_tsc = 0;
uint64_t cctrace_generation = 0;

static void (*cctrace_thread_exit_hook)(cctrace_thread_state *) = 0;

void cctrace_set_thread_exit_hook(void (*hook)(cctrace_thread_state *)) { cctrace_thread_exit_hook = hook; }

void cctrace_set_thread_name(const char *name) {
  char copy[16];
  strncpy(copy, name, sizeof copy - 1);
  copy[sizeof copy - 1] = 0;
  pthread_setname_np(pthread_self(), copy);
}

int cctrace_get_thread_name(char *buffer, unsigned long size) {
  return pthread_getname_np(pthread_self(), buffer, size);
}

uint32_t cctrace_gettid(void) { return (uint32_t)syscall(SYS_gettid); }

// MARK: - Thread exit

// A pthread key whose destructor tells the recorder that a thread is gone. The key is created
// once; pthread_setspecific is what makes the destructor run for this thread.
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void thread_exiting(void *value) {
  cctrace_thread_state *state = (cctrace_thread_state *)value;
  if (cctrace_tls_state == state) cctrace_tls_state = 0;
  if (cctrace_thread_exit_hook && state) cctrace_thread_exit_hook(state);
}

static void make_exit_key(void) { pthread_key_create(&exit_key, thread_exiting); }

void cctrace_tls_install(cctrace_thread_state *state) {
  pthread_once(&exit_key_once, make_exit_key);
  cctrace_tls_state = state;
  pthread_setspecific(exit_key, state);
}

// MARK: - Start-up

// Swift has no load-time initialisers. This constructor runs before main in every program that
// links CCTrace and, only when CCTRACE_OUTPUT is set, calls into the Swift side (a weak
// reference, so a program that links only this C target is unaffected).
__attribute__((weak)) void cctrace_swift_autostart(void);

__attribute__((constructor)) static void cctrace_constructor(void) {
  // Only do anything when asked to: a program that links CCTrace but runs without
  // CCTRACE_OUTPUT pays nothing at start-up.
  const char *out = getenv("CCTRACE_OUTPUT");
  if (out == 0 || out[0] == 0) return;
  if (cctrace_swift_autostart) cctrace_swift_autostart();
}

void cctrace_register_atexit(void (*fn)(void)) {
  static int registered = 0;
  if (__atomic_exchange_n(&registered, 1, __ATOMIC_SEQ_CST)) return;
  atexit(fn);
}

// MARK: - Fatal signals

// On a fatal signal the recorder gets one chance to write what it holds. The handler calls the
// flush function once (a second fatal signal during the flush goes straight to the previous
// disposition), restores what was installed before us and re-raises, so a crash still produces
// a core dump / crash report and the exit status the app would have had without tracing.
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTERM, SIGINT};
enum { FATAL_COUNT = sizeof(fatal_signals) / sizeof(fatal_signals[0]) };
static struct sigaction previous[FATAL_COUNT];
static int installed = 0;
static void (*flush_fn)(int) = 0;
static int flushing = 0;
static unsigned crash_flush_seconds = 2;

static int signal_index(int signo) {
  for (int i = 0; i < FATAL_COUNT; i++)
    if (fatal_signals[i] == signo) return i;
  return -1;
}

static volatile sig_atomic_t pending_signal = 0;

// The flush ran out of time: it is waiting for something the interrupted code holds (a crash
// inside malloc leaves the allocator's lock taken, and formatting the last events allocates).
// Give up on the flush and let the original signal take its default course, so a dying
// program never hangs on its way out. Calls only async-signal-safe functions (signal, kill,
// sigprocmask, _exit).
static void flush_timed_out(int unused) {
  (void)unused;
  int signo = pending_signal;
  signal(signo, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  sigprocmask(SIG_UNBLOCK, &set, 0);
  kill(getpid(), signo);
  _exit(128 + signo);
}

static void fatal_handler(int signo, siginfo_t *info, void *context) {
  int saved_errno = errno;
  int index = signal_index(signo);
  if (flush_fn && !__atomic_exchange_n(&flushing, 1, __ATOMIC_SEQ_CST)) {
    // The flush is best effort and not async-signal-safe (it formats and writes the buffered
    // events): it gets CCTRACE_CRASH_FLUSH_S seconds (default 2), after which the alarm ends
    // the process the way the signal would have. sigaction and alarm are async-signal-safe.
    pending_signal = signo;
    struct sigaction timeout;
    memset(&timeout, 0, sizeof timeout);
    timeout.sa_handler = flush_timed_out;
    sigemptyset(&timeout.sa_mask);
    sigaction(SIGALRM, &timeout, 0);
    alarm(crash_flush_seconds);
    flush_fn(signo);
    alarm(0);
  }
  if (index >= 0) {
    struct sigaction *prev = &previous[index];
    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
      // The app had its own handler: let it run as it would have.
      errno = saved_errno;
      prev->sa_sigaction(signo, info, context);
      return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN && prev->sa_handler) {
      errno = saved_errno;
      prev->sa_handler(signo);
      return;
    }
    if (prev->sa_handler == SIG_IGN) {
      errno = saved_errno;
      return;
    }
  }
  // Default disposition: restore it and re-raise. For a synchronous fault (SIGSEGV, SIGBUS)
  // returning re-executes the faulting instruction, which now takes the default action.
  signal(signo, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(SIG_UNBLOCK, &set, 0);
  raise(signo);
  errno = saved_errno;
}

void cctrace_install_signal_handlers(void (*flush)(int signo)) {
  flush_fn = flush;
  const char *limit = getenv("CCTRACE_CRASH_FLUSH_S");
  if (limit && atoi(limit) > 0) crash_flush_seconds = (unsigned)atoi(limit);
  if (installed) return;
  installed = 1;
  for (int i = 0; i < FATAL_COUNT; i++) {
    // A signal the app ignores (e.g. SIGINT under nohup) stays ignored: no flush, no death.
    struct sigaction current;
    if (sigaction(fatal_signals[i], 0, &current) == 0 && current.sa_handler == SIG_IGN &&
        !(current.sa_flags & SA_SIGINFO)) {
      previous[i] = current;
      continue;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fatal_handler;
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(fatal_signals[i], &action, &previous[i]);
  }
}

void cctrace_uninstall_signal_handlers(void) {
  if (!installed) return;
  for (int i = 0; i < FATAL_COUNT; i++) {
    struct sigaction current;
    // Restore only where our handler is still installed.
    if (sigaction(fatal_signals[i], 0, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
        current.sa_sigaction == fatal_handler)
      sigaction(fatal_signals[i], &previous[i], 0);
  }
  installed = 0;
  flushing = 0;
}

// MARK: - Traced lock slow paths

// Ulrich Drepper, "Futexes Are Tricky", mutex #3: mark the word 2 ("contended") before sleeping,
// so the unlocker knows it must wake someone; every waiter that wakes re-marks it 2, since it
// cannot know whether others still sleep.
void cctrace_lock_wait(cctrace_lock *l) {
  uint32_t c = 0;
  if (__atomic_compare_exchange_n(&l->word, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
  if (c != 2) c = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
  while (c != 0) {
    syscall(SYS_futex, &l->word, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0);
    c = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
  }
}

void cctrace_lock_wake(cctrace_lock *l) { syscall(SYS_futex, &l->word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0); }

// MARK: - Flight-recorder dump requests

// A dump request is one flag the writer thread polls. The signal handler only stores to it
// (async-signal-safe: a lock-free atomic store).
static int dump_requested = 0;
static int dump_signal = 0;
static struct sigaction dump_previous;

static void dump_signal_handler(int signo) {
  (void)signo;
  __atomic_store_n(&dump_requested, 1, __ATOMIC_RELEASE);
}

int cctrace_install_dump_signal(int signo) {
  struct sigaction current;
  if (signo <= 0 || sigaction(signo, 0, &current) != 0) return 0;
  // Leave a signal the program handles alone.
  if ((current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != 0
                                      : (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN))
    return 0;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = dump_signal_handler;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  if (sigaction(signo, &action, &dump_previous) != 0) return 0;
  dump_signal = signo;
  return 1;
}

void cctrace_uninstall_dump_signal(void) {
  if (dump_signal) sigaction(dump_signal, &dump_previous, 0);
  dump_signal = 0;
}

void cctrace_request_dump(void) { __atomic_store_n(&dump_requested, 1, __ATOMIC_RELEASE); }

int cctrace_take_dump_request(void) { return __atomic_exchange_n(&dump_requested, 0, __ATOMIC_ACQ_REL); }
