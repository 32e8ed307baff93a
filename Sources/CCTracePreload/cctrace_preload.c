// cctrace_preload.c — libcctrace-preload.so, loaded with LD_PRELOAD by `cctrace record -- CMD`
// into the command and every process it starts (the environment carries LD_PRELOAD and
// CCTRACE_PRELOAD_OUTPUT through fork and exec). Plain C, built with `cc`: it brings no language
// runtime into the traced processes.
//
// What it writes (cctrace's dialect, one JSON line per event with a single write(2) on a file
// opened O_APPEND, so a crash loses nothing already written):
// - `lock wait` (cat cctrace.lock): pthread_mutex_lock calls that found the mutex taken and
//   waited at least CCTRACE_LOCK_MIN_US (default 20 µs); args lock (address), lock_id,
//   owner_tid (glibc's owner field, read before waiting). The fast path is one load of the
//   mutex's lock word before the real call.
// - blocking calls that took at least CCTRACE_IO_MIN_US (default 1000 µs): read, write, recv,
//   recvfrom, send, sendto, accept, accept4, connect, poll, ppoll, select, epoll_wait, epoll_pwait,
//   nanosleep, clock_nanosleep, usleep, sleep (glibc calls nanosleep inside them without the
//   PLT), fsync, fdatasync — named after the call (cat cctrace.preload), args fd and kind
//   (socket, pipe, file, other); and pthread_cond_wait/timedwait, sem_wait/timedwait/clockwait
//   (waiting for a result or for work — or, for a semaphore its waiters also post, a lock wait).
// - file locks: flock and fcntl(F_SETLKW/F_OFD_SETLKW) waits as `lock wait`, the lock named by
//   the file's path and identified by device and inode (the same in every process); a lock
//   taken by retrying non-blocking attempts (F_SETLK, LOCK_NB: SQLite's busy handler sleeps
//   between them) is a wait from the first failed attempt to the one that succeeds.
// - stdio's reads and writes (fread, fgets, getline, fwrite), which glibc makes with its
//   internal read and write: timed only when the FILE buffer cannot serve the call.
// - bytes through pipes and sockets (`io <object>` counters per process; see "Bytes through
//   pipes and sockets"), with the object, size asked and bytes moved on recorded calls.
// - `lock hold` (cat cctrace.lock): holds of at least CCTRACE_LOCK_MIN_US of the lock a thread
//   last waited for (mutex, rwlock for writing, a semaphore used as a lock), timed from its
//   acquire to its release (pthread_mutex_unlock, pthread_rwlock_unlock, sem_post).
// - poll-family calls per thread (`polls <tid>` counters, any duration: an event loop shows
//   as a thread that polls again and again); recorded polls (poll, ppoll, select, epoll_wait,
//   epoll_pwait) carry their call site (arg site), and a thread's loop poll is told from a
//   blocking poll inside an iteration by it;
// - `loop iteration`: from the return of a thread's loop poll to its next call, when at least
//   CCTRACE_LOOP_ITERATION_MS (default 20), with the CPU the thread used in it (cpu_ms);
// - per-thread CPU accounting every 20 ms from /proc/self/task/*/schedstat (`cpu <tid>`
//   counters as the library writes them) and thread names from /proc, from a sampler thread.
// - session metadata (cores, clock, command line, language when the executable tells).
// - thread exits (`thread exit` instants, noticed by the sampler within 20 ms) and the end of
//   each process (`cctrace.session_end`).
// Safety: a per-thread reentrancy guard (the hooks call each other and the writer calls
// write); the hooks build their lines without stdio or allocation (a hooked read or write may
// run in a signal handler); real functions resolved with dlsym(RTLD_NEXT) in the constructor, with a trylock
// spin while dlsym itself takes a mutex; errno preserved; after fork the child reopens its own
// file and restarts its sampler. The shim installs no signal handler. What a hook may run in a
// signal handler (the read/write/poll/sleep family, which POSIX lists as async-signal-safe)
// uses only the raw system call, clock_gettime, snprintf-free formatting and write(2); the
// stack of a contended mutex (libunwind, dladdr, snprintf — none async-signal-safe) is taken
// only inside the pthread_mutex_lock and rwlock hooks, which no correct program calls from a
// signal handler (those functions are not async-signal-safe themselves).
#define _GNU_SOURCE
#include "cctrace_vocabulary.h"  // every name and key, generated from CCTraceFormat
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int trace_fd = -1;
static int pid_cached = 0;
static long lock_min_ns = 20000;
static long io_min_ns = 1000000;
static long loop_iteration_ns = 20000000;
// Initial-exec TLS: a preloaded library is loaded at start-up, so its thread-locals can live in
// the static TLS block and cost one instruction instead of a __tls_get_addr call.
static __thread int in_hook __attribute__((tls_model("initial-exec"))) = 0;
static __thread int tid_cached __attribute__((tls_model("initial-exec"))) = 0;
static volatile int sampler_stop = 0;

static int (*real_rwlock_rdlock)(pthread_rwlock_t *);
static int (*real_rwlock_wrlock)(pthread_rwlock_t *);
static int (*unwind_backtrace)(void **, int);
static int (*real_cond_wait)(pthread_cond_t *, pthread_mutex_t *);
static int (*real_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
static int (*real_sem_wait)(sem_t *);
static int (*real_sem_timedwait)(sem_t *, const struct timespec *);
static int (*real_sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
static int (*real_sem_post)(sem_t *);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_flock)(int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);
static int (*real_usleep)(useconds_t);
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static unsigned (*real_sleep)(unsigned);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_close)(int);
static size_t (*real_fread)(void *, size_t, size_t, FILE *);
static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
static char *(*real_fgets)(char *, int, FILE *);
static ssize_t (*real_getline)(char **, size_t *, FILE *);
static int (*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);
static int (*real_epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
static int (*real_nanosleep)(const struct timespec *, struct timespec *);
static int (*real_clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);

// Called before the constructor ran (another library's constructor), a hook looks the real
// function up itself rather than failing.
#define ENSURE(name) \
  if (__builtin_expect(!real_##name, 0)) real_##name = dlsym(RTLD_NEXT, #name)


static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int my_tid(void) {
  if (!tid_cached) tid_cached = (int)syscall(SYS_gettid);
  return tid_cached;
}

// Poll-family calls per thread (any duration): an event loop polls again and again, even when
// each call returns at once. Counted with relaxed atomics; the sampler writes the totals. The
// same slot carries the thread's loop iteration for the sampler (see "Event loops seen from
// outside").
#define POLL_SLOTS 1024
static struct {
  int tid;
  unsigned long calls;
  uint64_t iter_start;  // when the current loop iteration began (0: not in one), by the thread
  uint64_t seen_start;  // the iteration the sampler last saw, its CPU then and when
  uint64_t seen_run;
  uint64_t seen_at;
} poll_counts[POLL_SLOTS];
static __thread int poll_slot __attribute__((tls_model("initial-exec"))) = -1;

static int count_poll(void) {
  if (poll_slot >= 0) {
    __atomic_fetch_add(&poll_counts[poll_slot].calls, 1, __ATOMIC_RELAXED);
    return poll_slot;
  }
  int tid = my_tid();
  for (int probe = 0; probe < 8; probe++) {
    int i = (tid + probe) % POLL_SLOTS;
    int seen = __atomic_load_n(&poll_counts[i].tid, __ATOMIC_RELAXED);
    if (seen == 0) {
      int expected = 0;
      if (!__atomic_compare_exchange_n(&poll_counts[i].tid, &expected, tid, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED) &&
          expected != tid)
        continue;
      seen = tid;
    }
    if (seen == tid) {
      poll_slot = i;
      __atomic_fetch_add(&poll_counts[i].calls, 1, __ATOMIC_RELAXED);
      return i;
    }
  }
  return -1;
}

/// Appends one line (with ",\n") to the trace: a single write(2) on an O_APPEND descriptor.
static void emit(const char *fmt, ...) {
  if (trace_fd < 0) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 3, fmt, ap);
  va_end(ap);
  if (n <= 0) return;
  if (n > (int)sizeof line - 3) n = sizeof line - 3;
  line[n++] = ',';
  line[n++] = '\n';
  ssize_t (*w)(int, const void *, size_t) = real_write ? real_write : write;
  (void)w(trace_fd, line, (size_t)n);
}

// An async-signal-safe line builder for the events the hooks write (a hooked read or write may
// run in a signal handler): no stdio, no allocation, no locks.
typedef struct {
  char b[2800];
  int n;
} line_t;

static void put(line_t *l, const char *s) {
  while (*s && l->n < (int)sizeof l->b - 8) l->b[l->n++] = *s++;
}

static void put_u(line_t *l, unsigned long long v) {
  char t[24];
  int k = 0;
  do {
    t[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k && l->n < (int)sizeof l->b - 8) l->b[l->n++] = t[--k];
}

static void put_i(line_t *l, long long v) {
  if (v < 0) {
    put(l, "-");
    put_u(l, (unsigned long long)(-v));
  } else {
    put_u(l, (unsigned long long)v);
  }
}

/// Nanoseconds as microseconds with three decimals.
static void put_us(line_t *l, uint64_t ns) {
  put_u(l, ns / 1000);
  char frac[5] = {'.', (char)('0' + ns % 1000 / 100), (char)('0' + ns % 100 / 10), (char)('0' + ns % 10), 0};
  put(l, frac);
}

/// An address as `0x…` (what %p prints), without stdio.
static void put_site(line_t *l, void *site) {
  char hex[24];
  int k = 0;
  uintptr_t v = (uintptr_t)site;
  do {
    hex[k++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v && k < 20);
  put(l, "0x");
  while (k) {
    char c[2] = {hex[--k], 0};
    put(l, c);
  }
}

static void line_write(line_t *l) {
  if (trace_fd < 0) return;
  l->b[l->n++] = ',';
  l->b[l->n++] = '\n';
  ssize_t (*w)(int, const void *, size_t) = real_write ? real_write : write;
  (void)w(trace_fd, l->b, (size_t)l->n);
}

static void ts_text(uint64_t ns, char *out, size_t size) {
  snprintf(out, size, "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

/// The monotonic clock (ns) and the wall clock (text, µs since the epoch) at one instant: the
/// wall clock read between two monotonic reads, paired with their midpoint.
static uint64_t clock_anchor(char *wall, size_t size) {
  struct timespec t;
  uint64_t before = now_ns();
  clock_gettime(CLOCK_REALTIME, &t);
  uint64_t after = now_ns();
  ts_text((uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec, wall, size);
  return before + (after - before) / 2;
}

/// An `X` event on this thread; `args` are object members (no braces) or NULL.
static void emit_span(const char *cat, const char *name, uint64_t start, uint64_t end, const char *args) {
  line_t l = {.n = 0};
  put(&l, "{\"ph\":\"X\",\"cat\":\"");
  put(&l, cat);
  put(&l, "\",\"name\":\"");
  put(&l, name);
  put(&l, "\",\"pid\":");
  put_i(&l, pid_cached);
  put(&l, ",\"tid\":");
  put_i(&l, my_tid());
  put(&l, ",\"ts\":");
  put_us(&l, start);
  put(&l, ",\"dur\":");
  put_us(&l, end - start);
  if (args && *args) {
    put(&l, ",\"args\":{");
    put(&l, args);
    put(&l, "}");
  }
  put(&l, "}");
  line_write(&l);
}

static const char *fd_kind(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return "other";
  if (S_ISSOCK(st.st_mode)) return "socket";
  if (S_ISFIFO(st.st_mode)) return "pipe";
  if (S_ISREG(st.st_mode)) return "file";
  if (S_ISCHR(st.st_mode)) return "tty";
  return "other";
}

/// What `fd` refers to as /proc names it (`pipe:[123]`, `socket:[456]`), or "" — a system
/// call, safe in a signal handler.
static void fd_object(int fd, char *out, size_t size) {
  char path[40];
  line_t l = {.n = 0};
  put(&l, "/proc/self/fd/");
  put_i(&l, fd);
  l.b[l.n] = 0;
  memcpy(path, l.b, (size_t)l.n + 1);
  ssize_t n = readlink(path, out, size - 1);
  out[n > 0 ? n : 0] = 0;
}

/// A blocking call on `fd` that took at least CCTRACE_IO_MIN_US: args fd, kind, and for pipes
/// and sockets the object (the same pipe in two processes is one channel); `requested` and
/// `result` (bytes asked and moved) when ≥ 0.
static void emit_io_sized(const char *name, int fd, uint64_t start, uint64_t end, long requested, long result) {
  if ((long)(end - start) < io_min_ns) return;
  if (fd < 0) {
    emit_span(CCTRACE_CAT_PRELOAD, name, start, end, 0);
    return;
  }
  line_t args = {.n = 0};
  put(&args, "\"" CCTRACE_ARG_FD "\":");
  put_i(&args, fd);
  put(&args, ",\"" CCTRACE_ARG_KIND "\":\"");
  const char *kind = fd_kind(fd);
  put(&args, kind);
  put(&args, "\"");
  if (kind[0] == 'p' || kind[0] == 's') {
    char object[64];
    fd_object(fd, object, sizeof object);
    if (object[0]) {
      put(&args, ",\"" CCTRACE_ARG_OBJECT "\":\"");
      put(&args, object);
      put(&args, "\"");
    }
  }
  if (requested >= 0) {
    put(&args, ",\"" CCTRACE_ARG_SIZE "\":");
    put_i(&args, requested);
  }
  if (result >= 0) {
    put(&args, ",\"" CCTRACE_ARG_BYTES "\":");
    put_i(&args, result);
  }
  args.b[args.n] = 0;
  emit_span(CCTRACE_CAT_PRELOAD, name, start, end, args.b);
}

static void emit_io(const char *name, int fd, uint64_t start) { emit_io_sized(name, fd, start, now_ns(), -1, -1); }

// MARK: - Bytes through pipes and sockets
//
// Every read/write/recv/send adds what it moved to its descriptor's counters (one relaxed
// atomic add). The sampler harvests them every pass — and close() before the descriptor goes
// — into per-object totals (`pipe:[inode]`, `socket:[inode]`: a pipe inherited by a child is
// the same object in both processes, so the analysis sees the channel and its peer) and writes
// the totals that changed as `io <object>` counters; a socket's own and peer addresses are
// written once as an instant of the same name.
/// `127.0.0.1:5000`, `[::1]:5000`, or a Unix socket's path (JSON-safe: quotes and control
/// characters dropped).
static void sockaddr_text(const struct sockaddr *a, socklen_t len, char *out, size_t size) {
  out[0] = 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)a;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(out, size, "%s:%u", ip, ntohs(in->sin_port));
  } else if (a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(out, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
  } else if (a->sa_family == AF_UNIX && len > sizeof(sa_family_t)) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)a;
    size_t o = 0;
    for (size_t k = 0; k < len - sizeof(sa_family_t) && k < sizeof un->sun_path && o + 1 < size; k++) {
      char c = un->sun_path[k];
      if (k == 0 && c == 0) {
        out[o++] = '@';  // an abstract name
        continue;
      }
      if (c == 0) break;
      if (c == '"' || c == '\\' || (unsigned char)c < 0x20) continue;
      out[o++] = c;
    }
    out[o] = 0;
  }
}

#define FD_SLOTS 4096
static struct {
  unsigned long long r, w, ns;  // bytes read and written; time in calls too short to record
} fd_bytes[FD_SLOTS];
static int fd_high = 0;

// Whether each descriptor is a pipe or socket (0 not known yet, 1 no, 2 yes): looked up with
// fstat on its first counted call, forgotten on close. A thread also counts the bytes it moved
// through pipes and sockets, so a lock hold can say whether it was spent on a channel.
static unsigned char fd_channel[FD_SLOTS];
static __thread unsigned long long channel_read __attribute__((tls_model("initial-exec"))) = 0;
static __thread unsigned long long channel_written __attribute__((tls_model("initial-exec"))) = 0;

static inline void count_bytes(int fd, long n, int written, uint64_t took) {
  if (n <= 0 || fd < 0 || fd >= FD_SLOTS) return;
  __atomic_fetch_add(written ? &fd_bytes[fd].w : &fd_bytes[fd].r, (unsigned long long)n, __ATOMIC_RELAXED);
  if (fd > __atomic_load_n(&fd_high, __ATOMIC_RELAXED)) __atomic_store_n(&fd_high, fd, __ATOMIC_RELAXED);
  unsigned char channel = __atomic_load_n(&fd_channel[fd], __ATOMIC_RELAXED);
  if (!channel) {
    struct stat st;
    channel = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) ? 2 : 1;
    __atomic_store_n(&fd_channel[fd], channel, __ATOMIC_RELAXED);
  }
  if (channel == 2) {
    // A call long enough to be recorded is a slice of its own; the short ones' time (copying
    // through the channel) would otherwise pass for the program's computing.
    if ((long)took < io_min_ns) __atomic_fetch_add(&fd_bytes[fd].ns, took, __ATOMIC_RELAXED);
    if (written)
      channel_written += (unsigned long long)n;
    else
      channel_read += (unsigned long long)n;
  }
}

#define IO_OBJECTS 256
static struct {
  char name[64];
  unsigned long long r, w, ns;
  int dirty;
} io_objects[IO_OBJECTS];
static int io_object_count = 0;
static int io_lock = 0;

/// Moves `fd`'s counters to its object's totals (the caller holds io_lock).
static void harvest_fd(int fd) {
  unsigned long long r = __atomic_exchange_n(&fd_bytes[fd].r, 0, __ATOMIC_RELAXED);
  unsigned long long w = __atomic_exchange_n(&fd_bytes[fd].w, 0, __ATOMIC_RELAXED);
  unsigned long long ns = __atomic_exchange_n(&fd_bytes[fd].ns, 0, __ATOMIC_RELAXED);
  if (!r && !w) return;
  char object[64];
  fd_object(fd, object, sizeof object);
  int socket = strncmp(object, "socket:", 7) == 0;
  if (!socket && strncmp(object, "pipe:", 5) != 0) return;  // files and ttys are not channels
  int i = 0;
  while (i < io_object_count && strcmp(io_objects[i].name, object) != 0) i++;
  if (i == io_object_count) {
    if (io_object_count == IO_OBJECTS) return;
    io_object_count++;
    snprintf(io_objects[i].name, sizeof io_objects[i].name, "%s", object);
    io_objects[i].r = io_objects[i].w = io_objects[i].ns = 0;
    if (socket) {
      // Its addresses, once: a loopback connection is matched to the peer process by them.
      struct sockaddr_storage a, b;
      socklen_t la = sizeof a, lb = sizeof b;
      char local[64] = "", peer[64] = "";
      if (getsockname(fd, (struct sockaddr *)&a, &la) == 0) sockaddr_text((struct sockaddr *)&a, la, local, sizeof local);
      if (getpeername(fd, (struct sockaddr *)&b, &lb) == 0) sockaddr_text((struct sockaddr *)&b, lb, peer, sizeof peer);
      char ts[32];
      ts_text(now_ns(), ts, sizeof ts);
      emit("{\"ph\":\"i\",\"s\":\"p\",\"cat\":\"" CCTRACE_CAT_PRELOAD "\",\"name\":\"" CCTRACE_EV_IO_PREFIX
           "%s\",\"pid\":%d,\"tid\":%d,\"ts\":%s,\"args\":{\"" CCTRACE_ARG_LOCAL "\":\"%s\",\"" CCTRACE_ARG_PEER
           "\":\"%s\"}}",
           object, pid_cached, pid_cached, ts, local, peer);
    }
  }
  io_objects[i].r += r;
  io_objects[i].w += w;
  io_objects[i].ns += ns;
  io_objects[i].dirty = 1;
}

/// Harvests `fd` (or every descriptor, when -1) and writes the totals that changed.
static void harvest_io(int only) {
  while (__atomic_exchange_n(&io_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
  if (only >= 0) {
    if (only < FD_SLOTS) harvest_fd(only);
  } else {
    int high = __atomic_load_n(&fd_high, __ATOMIC_RELAXED);
    for (int fd = 0; fd <= high && fd < FD_SLOTS; fd++) harvest_fd(fd);
  }
  char ts[32];
  ts_text(now_ns(), ts, sizeof ts);
  for (int i = 0; i < io_object_count; i++) {
    if (!io_objects[i].dirty) continue;
    io_objects[i].dirty = 0;
    emit("{\"ph\":\"C\",\"cat\":\"" CCTRACE_CAT_PRELOAD "\",\"name\":\"" CCTRACE_EV_IO_PREFIX
         "%s\",\"pid\":%d,\"tid\":%d,\"ts\":%s,\"args\":{\"" CCTRACE_ARG_READ_BYTES "\":%llu,\"" CCTRACE_ARG_WRITTEN_BYTES
         "\":%llu,\"" CCTRACE_ARG_SHORT_CALLS_MS "\":%.3f}}",
         io_objects[i].name, pid_cached, pid_cached, ts, io_objects[i].r, io_objects[i].w, (double)io_objects[i].ns / 1e6);
  }
  __atomic_store_n(&io_lock, 0, __ATOMIC_RELEASE);
}

// MARK: - Files, metadata, the sampler

static void json_escape(const char *in, char *out, size_t size) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && o + 7 < size; p++) {
    if (*p == '"' || *p == '\\') {
      out[o++] = '\\';
      out[o++] = (char)*p;
    } else if (*p < 0x20) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", *p);
    } else {
      out[o++] = (char)*p;
    }
  }
  out[o] = 0;
}

static int read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t (*r)(int, void *, size_t) = real_read ? real_read : read;
  ssize_t n = r(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}

static void write_metadata(void) {
  char exe[512] = {0};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = 0;
  char cmd[2048];
  int len = read_small("/proc/self/cmdline", cmd, sizeof cmd);
  for (int i = 0; i < len - 1; i++)
    if (cmd[i] == 0) cmd[i] = ' ';
  char cmd_json[1024], exe_json[600];
  json_escape(len > 0 ? cmd : "", cmd_json, sizeof cmd_json);
  json_escape(exe, exe_json, sizeof exe_json);
  const char *base = strrchr(exe, '/');
  base = base ? base + 1 : exe;
  // Only a language the executable names is written (merged traces keep the last one).
  const char *language = strstr(base, "python") ? ",\"" CCTRACE_KEY_LANGUAGE "\":\"python\"" : "";
  char name_json[300];
  json_escape(base, name_json, sizeof name_json);
  char start[32], wall[32];
  ts_text(clock_anchor(wall, sizeof wall), start, sizeof start);
  emit("{\"ph\":\"M\",\"name\":\"" CCTRACE_EV_SESSION "\",\"cat\":\"" CCTRACE_CAT_SESSION
       "\",\"pid\":%d,\"tid\":%d,\"args\":{\"" CCTRACE_KEY_VERSION "\":\"" CCTRACE_VERSION "\",\"" CCTRACE_KEY_CORES
       "\":%ld,\"" CCTRACE_KEY_CLOCK "\":\"CLOCK_MONOTONIC\"%s,\"" CCTRACE_KEY_EXECUTABLE "\":\"%s\",\"" CCTRACE_KEY_COMMAND_LINE
       "\":\"%s\",\"" CCTRACE_KEY_START_TS "\":%s,\"" CCTRACE_KEY_WALL_START_US "\":%s}}",
       pid_cached, pid_cached, sysconf(_SC_NPROCESSORS_ONLN), language, exe_json, cmd_json, start, wall);
  emit("{\"ph\":\"M\",\"name\":\"" CCTRACE_EV_PROCESS_NAME "\",\"pid\":%d,\"tid\":%d,\"args\":{\"" CCTRACE_ARG_NAME
       "\":\"%s\"}}",
       pid_cached, pid_cached, name_json);
}

#define MAX_THREADS 512
static struct {
  int tid;
  unsigned long long run, wait;
  uint64_t at;
  int alive;
  char name[32];
} seen[MAX_THREADS];
static int seen_count = 0;
static pthread_t sampler_thread;
static int sampler_tid = 0;

/// A loop iteration of `tid` in progress that the sampler has not seen yet: its CPU now, for
/// the thread to subtract when the iteration turns out long (see "Event loops seen from
/// outside"). Only iterations that began before this reading are noted.
static void note_iteration(int tid, unsigned long long run, uint64_t now) {
  for (int probe = 0; probe < 8; probe++) {
    int i = (tid + probe) % POLL_SLOTS;
    int owner = __atomic_load_n(&poll_counts[i].tid, __ATOMIC_RELAXED);
    if (owner == 0) return;
    if (owner != tid) continue;
    uint64_t start = __atomic_load_n(&poll_counts[i].iter_start, __ATOMIC_ACQUIRE);
    if (start == 0 || start > now || __atomic_load_n(&poll_counts[i].seen_start, __ATOMIC_RELAXED) == start) return;
    poll_counts[i].seen_run = run;
    poll_counts[i].seen_at = now;
    __atomic_store_n(&poll_counts[i].seen_start, start, __ATOMIC_RELEASE);
    return;
  }
}

/// One pass over /proc/self/task: names of new threads, CPU shares since the last pass.
static void sample_threads(void) {
  DIR *dir = opendir("/proc/self/task");
  if (!dir) return;
  struct dirent *e;
  uint64_t now = now_ns();
  char ts[32];
  ts_text(now, ts, sizeof ts);
  while ((e = readdir(dir)) != 0) {
    int tid = atoi(e->d_name);
    if (tid <= 0 || tid == sampler_tid) continue;
    char path[96], buf[128];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
    if (read_small(path, buf, sizeof buf) <= 0) continue;
    unsigned long long run = 0, wait = 0;
    if (sscanf(buf, "%llu %llu", &run, &wait) != 2) continue;
    int i = 0;
    while (i < seen_count && seen[i].tid != tid) i++;
    if (i == seen_count) {
      if (seen_count == MAX_THREADS) continue;
      seen_count++;
      seen[i].tid = tid;
      seen[i].run = run;
      seen[i].wait = wait;
      seen[i].at = now;
      seen[i].name[0] = 0;
    }
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    char comm[32];
    if (read_small(path, comm, sizeof comm) > 0) {
      comm[strcspn(comm, "\n")] = 0;
      if (strcmp(comm, seen[i].name) != 0) {
        snprintf(seen[i].name, sizeof seen[i].name, "%s", comm);
        char escaped[96];
        json_escape(comm, escaped, sizeof escaped);
        emit("{\"ph\":\"M\",\"name\":\"" CCTRACE_EV_THREAD_NAME "\",\"pid\":%d,\"tid\":%d,\"args\":{\"" CCTRACE_ARG_NAME
             "\":\"%s\"}}",
             pid_cached, tid, escaped);
      }
    }
    uint64_t span = now - seen[i].at;
    if (span > 0 && seen[i].at != now) {
      double running = 100.0 * (double)(run - seen[i].run) / (double)span;
      double runnable = 100.0 * (double)(wait - seen[i].wait) / (double)span;
      char at[32];
      ts_text(seen[i].at, at, sizeof at);
      emit("{\"ph\":\"C\",\"cat\":\"" CCTRACE_CAT_CPU "\",\"name\":\"" CCTRACE_EV_CPU_PREFIX
           "%d\",\"pid\":%d,\"tid\":%d,\"ts\":%s,\"args\":{\"" CCTRACE_ARG_RUNNING_PCT "\":%.2f,\"" CCTRACE_ARG_RUNNABLE_PCT
           "\":%.2f}}",
           tid, pid_cached, tid, at, running > 100 ? 100.0 : running, runnable > 100 ? 100.0 : runnable);
    }
    seen[i].run = run;
    seen[i].wait = wait;
    seen[i].at = now;
    seen[i].alive = 1;
    note_iteration(tid, run, now);
  }
  closedir(dir);
  // Poll-family call totals per thread, when they changed.
  static unsigned long reported[POLL_SLOTS];
  for (int i = 0; i < POLL_SLOTS; i++) {
    int tid = __atomic_load_n(&poll_counts[i].tid, __ATOMIC_RELAXED);
    unsigned long calls = __atomic_load_n(&poll_counts[i].calls, __ATOMIC_RELAXED);
    if (tid == 0 || calls == reported[i]) continue;
    reported[i] = calls;
    emit("{\"ph\":\"C\",\"cat\":\"" CCTRACE_CAT_PRELOAD "\",\"name\":\"" CCTRACE_EV_POLLS_PREFIX
         "%d\",\"pid\":%d,\"tid\":%d,\"ts\":%s,\"args\":{\"" CCTRACE_ARG_CALLS "\":%lu}}",
         tid, pid_cached, tid, ts, calls);
  }
  // Threads that were here last pass and are gone: they exited (within one sampling period).
  for (int i = seen_count - 1; i >= 0; i--) {
    if (!seen[i].alive) {
      emit("{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"" CCTRACE_CAT_PRELOAD "\",\"name\":\"" CCTRACE_EV_THREAD_EXIT
           "\",\"pid\":%d,\"tid\":%d,\"ts\":%s}",
           pid_cached, seen[i].tid, ts);
      seen[i] = seen[--seen_count];
    } else {
      seen[i].alive = 0;
    }
  }
  (void)ts;
}

static void *sampler_main(void *arg) {
  (void)arg;
  in_hook = 1;  // nothing this thread does is the program's
  sampler_tid = my_tid();
  while (!sampler_stop) {
    sample_threads();
    harvest_io(-1);
    struct timespec ts = {0, 20 * 1000 * 1000};
    (real_nanosleep ? real_nanosleep : nanosleep)(&ts, 0);
  }
  return 0;
}

static void open_trace(void) {
  const char *out = getenv("CCTRACE_PRELOAD_OUTPUT");
  if (!out || !*out) return;
  pid_cached = getpid();
  char path[4096];
  snprintf(path, sizeof path, "%s.%d", out, pid_cached);
  trace_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (trace_fd < 0) return;
  (real_write ? real_write : write)(trace_fd, "[\n", 2);
  write_metadata();
  seen_count = 0;
  sampler_stop = 0;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The sampler blocks every signal, from its first instruction (it inherits the mask it is
  // created with): a signal sent to the process must reach the program's threads. A program
  // that blocks a signal in its threads and waits for it in sigsuspend (nginx's master) would
  // otherwise have it handled on the sampler and sleep on.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pthread_create(&sampler_thread, &attr, sampler_main, 0);
  pthread_sigmask(SIG_SETMASK, &saved, 0);
  pthread_attr_destroy(&attr);
}

static void after_fork_child(void) {
  tid_cached = 0;
  poll_slot = -1;
  memset(fd_bytes, 0, sizeof fd_bytes);
  io_object_count = 0;
  io_lock = 0;
  memset(poll_counts, 0, sizeof poll_counts);
  if (trace_fd >= 0) close(trace_fd);
  trace_fd = -1;
  int saved = in_hook;
  in_hook = 1;
  open_trace();
  in_hook = saved;
}

static pthread_key_t exit_cpu_key;
static void thread_exit_cpu(void *value);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

__attribute__((constructor)) static void preload_init(void) {
  in_hook = 1;
  real_rwlock_rdlock = dlsym(RTLD_NEXT, "pthread_rwlock_rdlock");
  real_rwlock_wrlock = dlsym(RTLD_NEXT, "pthread_rwlock_wrlock");
  // libunwind opened RTLD_LOCAL: its unversioned _Unwind_* must not replace the process's.
  void *unwind = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (unwind) {
    unwind_backtrace = dlsym(unwind, "unw_backtrace");
    if (!unwind_backtrace) unwind_backtrace = dlsym(unwind, "_Ux86_64_backtrace");
  }
  real_cond_wait = dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
  if (!real_cond_wait) real_cond_wait = dlsym(RTLD_NEXT, "pthread_cond_wait");
  real_cond_timedwait = dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
  if (!real_cond_timedwait) real_cond_timedwait = dlsym(RTLD_NEXT, "pthread_cond_timedwait");
  real_sem_wait = dlsym(RTLD_NEXT, "sem_wait");
  RESOLVE(sem_timedwait);
  RESOLVE(sem_clockwait);
  RESOLVE(sem_post);
  RESOLVE(fsync);
  RESOLVE(fdatasync);
  RESOLVE(flock);
  RESOLVE(fcntl);
  RESOLVE(fcntl64);
  RESOLVE(usleep);
  RESOLVE(pthread_create);
  pthread_key_create(&exit_cpu_key, thread_exit_cpu);
  RESOLVE(sleep);
  RESOLVE(read);
  RESOLVE(write);
  RESOLVE(recv);
  RESOLVE(recvfrom);
  RESOLVE(send);
  RESOLVE(sendto);
  RESOLVE(accept);
  RESOLVE(accept4);
  RESOLVE(connect);
  RESOLVE(poll);
  RESOLVE(close);
  RESOLVE(fread);
  RESOLVE(fwrite);
  RESOLVE(fgets);
  RESOLVE(getline);
  RESOLVE(ppoll);
  RESOLVE(select);
  RESOLVE(epoll_wait);
  RESOLVE(epoll_pwait);
  RESOLVE(nanosleep);
  RESOLVE(clock_nanosleep);
  const char *v = getenv("CCTRACE_LOCK_MIN_US");
  if (v) lock_min_ns = atol(v) * 1000;
  v = getenv("CCTRACE_IO_MIN_US");
  if (v) io_min_ns = atol(v) * 1000;
  v = getenv("CCTRACE_LOOP_ITERATION_MS");
  if (v) loop_iteration_ns = atol(v) * 1000000;
  pthread_atfork(0, 0, after_fork_child);
  open_trace();
  in_hook = 0;
}

static int finished = 0;

__attribute__((destructor)) static void preload_fini(void) {
  sampler_stop = 1;
  if (__atomic_exchange_n(&finished, 1, __ATOMIC_SEQ_CST)) return;
  if (trace_fd >= 0) {
    in_hook = 1;
    sample_threads();
    harvest_io(-1);
    char end[32], wall[32];
    ts_text(clock_anchor(wall, sizeof wall), end, sizeof end);
    emit("{\"ph\":\"M\",\"name\":\"" CCTRACE_EV_SESSION_END "\",\"pid\":%d,\"tid\":%d,\"args\":{\"" CCTRACE_KEY_REASON
         "\":\"exit\",\"" CCTRACE_KEY_END_TS "\":%s,\"" CCTRACE_KEY_WALL_END_US "\":%s}}",
         pid_cached, pid_cached, end, wall);
  }
}

// A process that ends with _exit (a forked worker — Python's multiprocessing does, and so do
// most fork-based pools — or a child that must not run its parent's atexit handlers) skips
// destructors: without this, its byte counters and last CPU readings since the sampler's last
// pass would be lost. Only in the process the shim set up (a vfork child shares its parent's
// memory and must not touch it) — the pid the shim knows is its own.
static void finish_before_exit(void) {
  if (pid_cached != 0 && getpid() == pid_cached) preload_fini();
}

void _exit(int status) {
  finish_before_exit();
  static void (*real)(int);
  if (!real) real = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
  real(status);
  __builtin_unreachable();
}

void _Exit(int status) {
  finish_before_exit();
  static void (*real)(int);
  if (!real) real = (void (*)(int))dlsym(RTLD_NEXT, "_Exit");
  real(status);
  __builtin_unreachable();
}

// MARK: - Thread CPU at exit
//
// The sampler reads every thread's CPU every 20 ms, so a thread that lives a few milliseconds
// (a thread per connection, a short worker) would leave no CPU behind. Threads created through
// pthread_create carry a key whose destructor runs as they exit (returning or pthread_exit):
// the thread reads its own scheduler statistics and writes the CPU of the stretch the sampler
// has not covered — from its last reading, or from the thread's start — and a zero reading at
// its end.

static void thread_exit_cpu(void *value) {
  if (!value || trace_fd < 0) return;
  int saved_hook = in_hook;
  in_hook = 1;
  uint64_t born = (uint64_t)(uintptr_t)value;
  int tid = my_tid();
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
  unsigned long long run = 0, wait = 0;
  if (read_small(path, buf, sizeof buf) > 0 && sscanf(buf, "%llu %llu", &run, &wait) == 2) {
    uint64_t from = born;
    unsigned long long run0 = 0, wait0 = 0;
    for (int i = 0; i < seen_count; i++)
      if (seen[i].tid == tid) {
        from = seen[i].at;
        run0 = seen[i].run;
        wait0 = seen[i].wait;
        break;
      }
    uint64_t now = now_ns();
    if (now > from && run >= run0 && wait >= wait0) {
      double span = (double)(now - from);
      double running = 100.0 * (double)(run - run0) / span, runnable = 100.0 * (double)(wait - wait0) / span;
      char at[32], end[32];
      ts_text(from, at, sizeof at);
      ts_text(now, end, sizeof end);
      emit("{\"ph\":\"C\",\"cat\":\"" CCTRACE_CAT_CPU "\",\"name\":\"" CCTRACE_EV_CPU_PREFIX
           "%d\",\"pid\":%d,\"tid\":%d,\"ts\":%s,\"args\":{\"" CCTRACE_ARG_RUNNING_PCT "\":%.2f,\"" CCTRACE_ARG_RUNNABLE_PCT
           "\":%.2f}}",
           tid, pid_cached, tid, at, running > 100 ? 100.0 : running, runnable > 100 ? 100.0 : runnable);
      emit("{\"ph\":\"C\",\"cat\":\"" CCTRACE_CAT_CPU "\",\"name\":\"" CCTRACE_EV_CPU_PREFIX
           "%d\",\"pid\":%d,\"tid\":%d,\"ts\":%s,\"args\":{\"" CCTRACE_ARG_RUNNING_PCT "\":0,\"" CCTRACE_ARG_RUNNABLE_PCT
           "\":0}}",
           tid, pid_cached, tid, end);
    }
  }
  in_hook = saved_hook;
}

typedef struct {
  void *(*fn)(void *);
  void *arg;
} start_box;

static void *start_thread_traced(void *p) {
  start_box b = *(start_box *)p;
  free(p);
  uint64_t born = now_ns();
  pthread_setspecific(exit_cpu_key, (void *)(uintptr_t)born);
  return b.fn(b.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  ENSURE(pthread_create);
  start_box *b = trace_fd >= 0 ? malloc(sizeof *b) : 0;
  if (!b) return real_pthread_create(t, a, fn, arg);
  b->fn = fn;
  b->arg = arg;
  int r = real_pthread_create(t, a, start_thread_traced, b);
  if (r != 0) free(b);
  return r;
}

// MARK: - Hooks

// MARK: - Lock identity: the stack of a lock's first contended wait

#define KNOWN_LOCKS 1024
static void *known_locks[KNOWN_LOCKS];

/// Whether this is the first contended wait on `lock` (then its stack is worth recording).
static int first_contention(void *lock) {
  unsigned long h = ((unsigned long)(uintptr_t)lock >> 4) % KNOWN_LOCKS;
  for (int probe = 0; probe < KNOWN_LOCKS; probe++) {
    unsigned long i = (h + probe) % KNOWN_LOCKS;
    void *seen = __atomic_load_n(&known_locks[i], __ATOMIC_ACQUIRE);
    if (seen == lock) return 0;
    if (seen == 0) {
      void *expected = 0;
      if (__atomic_compare_exchange_n(&known_locks[i], &expected, lock, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 1;
      if (expected == lock) return 0;
    }
  }
  return 0;
}

/// `,"frames":["sym+0xoff (image)",…]` for the caller's stack (libunwind, opened RTLD_LOCAL),
/// named with dladdr; empty when libunwind is missing.
static void append_frames(char *args, size_t size) {
  if (!unwind_backtrace) return;
  void *frames[12];
  int n = unwind_backtrace(frames, 12);
  size_t used = strlen(args);
  used += (size_t)snprintf(args + used, size - used, ",\"" CCTRACE_ARG_FRAMES "\":[");
  int written = 0;
  for (int i = 2; i < n && used + 96 < size; i++) {  // skip this function and the hook
    Dl_info info;
    char frame[200];
    if (dladdr(frames[i], &info) && info.dli_sname) {
      const char *image = info.dli_fname ? strrchr(info.dli_fname, '/') : 0;
      snprintf(frame, sizeof frame, "%s + 0x%lx (%s)", info.dli_sname,
               (unsigned long)((char *)frames[i] - (char *)info.dli_saddr), image ? image + 1 : "?");
    } else {
      const char *image = info.dli_fname ? strrchr(info.dli_fname, '/') : 0;
      snprintf(frame, sizeof frame, "%p (%s)", frames[i], image ? image + 1 : "?");
    }
    char escaped[256];
    json_escape(frame, escaped, sizeof escaped);
    used += (size_t)snprintf(args + used, size - used, "%s\"%s\"", written++ ? "," : "", escaped);
  }
  if (used + 2 < size) {
    args[used++] = ']';
    args[used] = 0;
  }
}

/// Records a contended wait on `lock` (`kind`: mutex or rwlock); whether it was long enough to.
static int record_lock_wait(void *lock, const char *kind, int owner, uint64_t start, uint64_t end) {
  if ((long)(end - start) < lock_min_ns) return 0;
  char args[2600];
  snprintf(args, 200, "\"" CCTRACE_ARG_LOCK "\":\"%s %p\",\"" CCTRACE_ARG_LOCK_ID "\":%lu,\"" CCTRACE_ARG_OWNER_TID "\":%d", kind, lock,
           (unsigned long)(uintptr_t)lock, owner);
  if (first_contention(lock)) append_frames(args, sizeof args);
  emit_span(CCTRACE_CAT_LOCK, CCTRACE_EV_LOCK_WAIT, start, end, args);
  return 1;
}

// MARK: - Holds of a contended lock
//
// How long a contended lock is held tells a lock around all of the work (a global lock: only
// one thread runs, whatever the cores) from a critical section around part of it (narrowing it
// lets the threads overlap). Timing every hold would cost every acquire a clock read; instead a
// thread times the holds of the lock it last waited for (a recorded wait): its acquires of that
// lock — contended or not, since an unfair lock is often re-taken by the thread that just
// released it — and releases compare one thread-local pointer on the way, which is all any
// other lock pays. After TRACKED_QUIET acquires in a row without a wait the lock is no longer
// contended for this thread and is dropped. Holds of at least CCTRACE_LOCK_MIN_US are written
// (`lock hold`), so very short critical sections are not counted.
#define TRACKED_QUIET 64
static __thread void *tracked_lock __attribute__((tls_model("initial-exec"))) = 0;
static __thread const char *tracked_kind __attribute__((tls_model("initial-exec"))) = 0;
static __thread unsigned tracked_quiet __attribute__((tls_model("initial-exec"))) = 0;
static __thread uint64_t held_since __attribute__((tls_model("initial-exec"))) = 0;
static __thread unsigned long long held_read __attribute__((tls_model("initial-exec"))) = 0;
static __thread unsigned long long held_written __attribute__((tls_model("initial-exec"))) = 0;

/// After a recorded wait on `lock`: it is held from `at`, and its next holds are timed.
static void hold_begin(void *lock, const char *kind, uint64_t at) {
  tracked_lock = lock;
  tracked_kind = kind;
  tracked_quiet = 0;
  held_since = at;
  held_read = channel_read;
  held_written = channel_written;
}

/// An acquire of the tracked lock that did not wait.
__attribute__((noinline)) static void tracked_acquired(void) {
  if (++tracked_quiet > TRACKED_QUIET) {
    tracked_lock = 0;
    held_since = 0;
    return;
  }
  held_since = now_ns();
  held_read = channel_read;
  held_written = channel_written;
}

/// A release of the tracked lock: the hold, if long enough to write.
__attribute__((noinline)) static void hold_end(void *lock) {
  uint64_t since = held_since;
  held_since = 0;
  if (!since || trace_fd < 0 || in_hook) return;
  uint64_t end = now_ns();
  if ((long)(end - since) < lock_min_ns) return;
  int saved = errno;
  in_hook = 1;
  line_t args = {.n = 0};
  put(&args, "\"" CCTRACE_ARG_LOCK "\":\"");
  put(&args, tracked_kind);
  put(&args, " ");
  put_site(&args, lock);  // no stdio: sem_post, which ends a hold, may run in a signal handler
  put(&args, "\",\"" CCTRACE_ARG_LOCK_ID "\":");
  put_u(&args, (unsigned long long)(uintptr_t)lock);
  // What the holder moved through pipes and sockets meanwhile: a lock around a channel.
  if (channel_read > held_read) {
    put(&args, ",\"" CCTRACE_ARG_READ_BYTES "\":");
    put_u(&args, channel_read - held_read);
  }
  if (channel_written > held_written) {
    put(&args, ",\"" CCTRACE_ARG_WRITTEN_BYTES "\":");
    put_u(&args, channel_written - held_written);
  }
  args.b[args.n] = 0;
  emit_span(CCTRACE_CAT_LOCK, CCTRACE_EV_LOCK_HOLD, since, end, args.b);
  in_hook = 0;
  errno = saved;
}

extern int __pthread_mutex_unlock(pthread_mutex_t *);
extern int __pthread_rwlock_unlock(pthread_rwlock_t *);

// Called directly (glibc exports the double-underscore names): no lookup, nothing resolved
// before the constructor, no indirect call.
int pthread_mutex_unlock(pthread_mutex_t *m) {
  if (__builtin_expect((void *)m == tracked_lock, 0)) hold_end(m);
  return __pthread_mutex_unlock(m);
}

int pthread_rwlock_unlock(pthread_rwlock_t *l) {
  if (__builtin_expect((void *)l == tracked_lock, 0)) hold_end(l);
  return __pthread_rwlock_unlock(l);
}

extern int __pthread_mutex_lock(pthread_mutex_t *);

/// The slow path: the mutex was taken. Kept out of line so the fast path needs no stack frame.
__attribute__((noinline)) static int mutex_lock_slow(pthread_mutex_t *m) {
  if (in_hook || trace_fd < 0) return __pthread_mutex_lock(m);
  int saved = errno;
  in_hook = 1;
  int owner = m->__data.__owner;
  uint64_t start = now_ns();
  int r = __pthread_mutex_lock(m);
  uint64_t end = now_ns();
  if (record_lock_wait(m, "mutex", owner, start, end)) hold_begin(m, "mutex", end);
  in_hook = 0;
  errno = saved;
  return r;
}

// The fast path: a free mutex (glibc's lock word is 0) is taken by the real function with
// nothing recorded — one load more than without the shim. (A thread that takes it between this
// load and the real call makes us miss one wait; we never record a wait that was not.) A taken
// one is tried once more; only EBUSY goes on to wait in the real lock, timed. Any other answer
// of trylock is the answer of lock too (EOWNERDEAD for a robust mutex — trylock acquired it —,
// EAGAIN for a recursive count at its limit). glibc exports the double-underscore names, so
// nothing is looked up, even before the constructor (dlsym itself takes mutexes).
__attribute__((noinline)) static int mutex_lock_tracked(pthread_mutex_t *m) {
  int r = __pthread_mutex_lock(m);
  tracked_acquired();
  return r;
}

int pthread_mutex_lock(pthread_mutex_t *m) {
  if (__builtin_expect(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0, 1)) {
    if (__builtin_expect((void *)m == tracked_lock, 0)) return mutex_lock_tracked(m);
    return __pthread_mutex_lock(m);  // a tail call: the fast path keeps no frame
  }
  int r = pthread_mutex_trylock(m);
  if (r == 0) {
    if ((void *)m == tracked_lock) tracked_acquired();
    return 0;
  }
  if (r != EBUSY) return r;
  return mutex_lock_slow(m);
}

static int rwlock_slow(pthread_rwlock_t *l, int write_lock) {
  int saved = errno;
  in_hook = 1;
  uint64_t start = now_ns();
  int r = write_lock ? real_rwlock_wrlock(l) : real_rwlock_rdlock(l);
  uint64_t end = now_ns();
  // A write hold excludes everyone; read holds overlap each other and are not timed.
  if (record_lock_wait(l, write_lock ? "rwlock (write)" : "rwlock (read)", 0, start, end) && write_lock)
    hold_begin(l, "rwlock (write)", end);
  in_hook = 0;
  errno = saved;
  return r;
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l) {
  if (!real_rwlock_rdlock) return EINVAL;
  if (pthread_rwlock_tryrdlock(l) == 0) return 0;
  if (in_hook || trace_fd < 0) return real_rwlock_rdlock(l);
  return rwlock_slow(l, 0);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l) {
  if (!real_rwlock_wrlock) return EINVAL;
  if (pthread_rwlock_trywrlock(l) == 0) {
    if (__builtin_expect((void *)l == tracked_lock, 0)) tracked_acquired();
    return 0;
  }
  if (in_hook || trace_fd < 0) return real_rwlock_wrlock(l);
  return rwlock_slow(l, 1);
}

#define TIMED_WAIT(call, name, fd)      \
  uint64_t start = now_ns();            \
  int saved_hook = in_hook;             \
  in_hook = 1;                          \
  __typeof__(call) result = call;       \
  int saved = errno;                    \
  if (!saved_hook && trace_fd >= 0) emit_io(name, fd, start); \
  in_hook = saved_hook;                 \
  errno = saved;                        \
  return result;

// A condition wait (waiting for a result, or for work) recorded when it took at least
// CCTRACE_IO_MIN_US, with the condition variable's address (arg cond); the first recorded wait
// on each condition variable carries its stack, which tells what the variable is for — an
// interpreter lock built from a mutex and a condition variable (CPython's GIL: take_gil waits
// on one) is known by the functions that wait on it. A condition wait releases the mutex: a
// timed hold of it ends there.
static int cond_wait_hook(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t, const char *name) {
  if ((void *)m == tracked_lock) hold_end(m);
  uint64_t start = now_ns();
  int saved_hook = in_hook;
  in_hook = 1;
  int result = t ? real_cond_timedwait(c, m, t) : real_cond_wait(c, m);
  int saved = errno;
  uint64_t end = now_ns();
  if (!saved_hook && trace_fd >= 0 && (long)(end - start) >= io_min_ns) {
    char args[2600];
    snprintf(args, 200, "\"" CCTRACE_ARG_COND "\":\"%p\"", (void *)c);
    if (first_contention(c)) append_frames(args, sizeof args);
    emit_span(CCTRACE_CAT_PRELOAD, name, start, end, args);
  }
  in_hook = saved_hook;
  errno = saved;
  return result;
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  if (!real_cond_wait) return EINVAL;
  return cond_wait_hook(c, m, 0, "pthread_cond_wait");
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t) {
  if (!real_cond_timedwait) return EINVAL;
  return cond_wait_hook(c, m, t, "pthread_cond_timedwait");
}

// MARK: - Semaphores: a lock, or a wait for a result?
//
// A semaphore is a lock when the threads that wait on it are the ones that post it (each
// releases what it acquired: CPython's threading.Lock is a semaphore), and a wait for a result
// when others post it (a queue, a worker's completion). sem_post records, per semaphore, the
// threads that posted it (lock-free, fixed tables: a program with more semaphores or posters
// than fit is classified by the ones seen); a wait by a thread that has posted the same
// semaphore is recorded as a lock wait.
#define KNOWN_SEMS 512
#define SEM_POSTERS 8
static struct {
  void *sem;
  int posters[SEM_POSTERS];
} known_sems[KNOWN_SEMS];

static int sem_slot(void *sem, int insert) {
  unsigned h = (unsigned)(((uintptr_t)sem >> 4) * 2654435761u) % KNOWN_SEMS;
  for (unsigned k = 0; k < KNOWN_SEMS; k++) {
    unsigned i = (h + k) % KNOWN_SEMS;
    void *seen = __atomic_load_n(&known_sems[i].sem, __ATOMIC_ACQUIRE);
    if (seen == sem) return (int)i;
    if (seen == 0) {
      if (!insert) return -1;
      void *expected = 0;
      if (__atomic_compare_exchange_n(&known_sems[i].sem, &expected, sem, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return (int)i;
      if (expected == sem) return (int)i;
    }
  }
  return -1;
}

static int posted_by_me(void *sem) {
  int i = sem_slot(sem, 0);
  if (i < 0) return 0;
  int me = my_tid();
  for (int k = 0; k < SEM_POSTERS; k++)
    if (__atomic_load_n(&known_sems[i].posters[k], __ATOMIC_RELAXED) == me) return 1;
  return 0;
}

static __thread void *last_posted __attribute__((tls_model("initial-exec"))) = 0;

int sem_post(sem_t *s) {
  ENSURE(sem_post);
  if (__builtin_expect((void *)s == tracked_lock, 0)) hold_end(s);
  // The common case — a thread releasing the lock it released last time — costs one compare.
  if (s == last_posted) return real_sem_post(s);
  last_posted = s;
  int i = sem_slot(s, 1);
  if (i >= 0) {
    int me = my_tid();
    for (int k = 0; k < SEM_POSTERS; k++) {
      int seen = __atomic_load_n(&known_sems[i].posters[k], __ATOMIC_RELAXED);
      if (seen == me) break;
      if (seen == 0) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&known_sems[i].posters[k], &expected, me, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED) || expected == me)
          break;
      }
    }
  }
  return real_sem_post(s);
}

// A semaphore wait: a lock wait when this thread posts the semaphore too, else a wait for a
// result (named sem_wait). The fast path, like the mutex's: a semaphore that is available is
// taken by sem_trywait with nothing timed or looked up; only a wait is timed and classified.
#define SEM_WAIT(call)                                                           \
  if (sem_trywait(s) == 0) {                                                     \
    if (__builtin_expect((void *)s == tracked_lock, 0)) tracked_acquired();      \
    return 0;                                                                    \
  }                                                                              \
  uint64_t start = now_ns();                                                     \
  int saved_hook = in_hook;                                                      \
  in_hook = 1;                                                                   \
  int result = call;                                                             \
  int saved = errno;                                                             \
  uint64_t end = now_ns();                                                       \
  long waited = (long)(end - start);                                             \
  if (!saved_hook && trace_fd >= 0 && (waited >= lock_min_ns || waited >= io_min_ns)) { \
    if (posted_by_me(s)) {                                                       \
      if (record_lock_wait(s, "semaphore", 0, start, end) && result == 0)        \
        hold_begin(s, "semaphore", end);                                         \
    } else                                                                       \
      emit_io("sem_wait", -1, start);                                            \
  }                                                                              \
  in_hook = saved_hook;                                                          \
  errno = saved;                                                                 \
  return result;

int sem_wait(sem_t *s) {
  ENSURE(sem_wait);
  SEM_WAIT(real_sem_wait(s))
}

int sem_timedwait(sem_t *s, const struct timespec *t) {
  ENSURE(sem_timedwait);
  SEM_WAIT(real_sem_timedwait(s, t))
}

int sem_clockwait(sem_t *s, clockid_t c, const struct timespec *t) {
  ENSURE(sem_clockwait);
  SEM_WAIT(real_sem_clockwait(s, c, t))
}

// MARK: - Storage: fsync, file locks

int fsync(int fd) {
  if (!real_fsync) return (int)syscall(SYS_fsync, fd);
  TIMED_WAIT(real_fsync(fd), "fsync", fd)
}

int fdatasync(int fd) {
  if (!real_fdatasync) return (int)syscall(SYS_fdatasync, fd);
  TIMED_WAIT(real_fdatasync(fd), "fdatasync", fd)
}

/// A file lock wait: the lock is the file (device and inode, so every process waiting for the
/// same file names the same lock).
static void record_file_lock_wait(int fd, const char *kind, uint64_t start, uint64_t end) {
  if ((long)(end - start) < lock_min_ns) return;
  struct stat st;
  unsigned long id = 0;
  if (fstat(fd, &st) == 0) id = (unsigned long)st.st_ino ^ ((unsigned long)st.st_dev << 40);
  char path[64], target[256];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  target[n > 0 ? n : 0] = 0;
  char escaped[300];
  json_escape(target, escaped, sizeof escaped);
  char args[512];
  snprintf(args, sizeof args,
           "\"" CCTRACE_ARG_LOCK "\":\"%s %s\",\"" CCTRACE_ARG_LOCK_ID "\":%lu,\"" CCTRACE_ARG_FD "\":%d", kind,
           escaped, id, fd);
  emit_span(CCTRACE_CAT_LOCK, CCTRACE_EV_LOCK_WAIT, start, end, args);
}

// A file lock taken by trying again and again (SQLite's busy handler, lockfile loops): a
// non-blocking attempt that fails starts a wait — the sleeps and retries that follow are part
// of it — and the first attempt on the same descriptor that succeeds ends it.
static __thread int busy_fd __attribute__((tls_model("initial-exec"))) = -1;
static __thread uint64_t busy_since __attribute__((tls_model("initial-exec"))) = 0;

/// The result `r` of a non-blocking attempt on `fd` that began at `start`: a failure because
/// the lock is taken starts the wait, a success ends it. Returns `r`, errno untouched.
static int try_lock_result(int fd, int r, const char *kind, uint64_t start) {
  int saved = errno;
  in_hook = 1;
  if (r != 0) {
    if ((saved == EAGAIN || saved == EACCES || saved == EWOULDBLOCK) && (!busy_since || busy_fd != fd)) {
      busy_fd = fd;
      busy_since = start;
    }
  } else {
    if (busy_since && busy_fd == fd) record_file_lock_wait(fd, kind, busy_since, now_ns());
    busy_since = 0;
    busy_fd = -1;
  }
  in_hook = 0;
  errno = saved;
  return r;
}

int flock(int fd, int op) {
  if (!real_flock) return (int)syscall(SYS_flock, fd, op);
  if ((op & LOCK_NB) && !(op & LOCK_UN) && !in_hook && trace_fd >= 0) {
    uint64_t start = now_ns();
    return try_lock_result(fd, real_flock(fd, op), "flock", start);
  }
  if ((op & LOCK_NB) || (op & LOCK_UN) || in_hook || trace_fd < 0) return real_flock(fd, op);
  int saved_hook = in_hook;
  in_hook = 1;
  uint64_t start = now_ns();
  int r = real_flock(fd, op);
  int saved = errno;
  record_file_lock_wait(fd, "flock", start, now_ns());
  in_hook = saved_hook;
  errno = saved;
  return r;
}

static int fcntl_hook(int (*real)(int, int, ...), int fd, int cmd, unsigned long arg) {
  if (!real) return (int)syscall(SYS_fcntl, fd, cmd, arg);
  // Non-blocking attempts to lock (not to unlock) are followed for retry loops.
  if ((cmd == F_SETLK || cmd == F_OFD_SETLK) && !in_hook && trace_fd >= 0 && arg &&
      ((const struct flock *)arg)->l_type != F_UNLCK) {
    uint64_t start = now_ns();
    return try_lock_result(fd, real(fd, cmd, arg), "fcntl lock", start);
  }
  // Only the blocking record-lock commands wait; everything else passes straight through.
  if ((cmd != F_SETLKW && cmd != F_OFD_SETLKW) || in_hook || trace_fd < 0) return real(fd, cmd, arg);
  int saved_hook = in_hook;
  in_hook = 1;
  uint64_t start = now_ns();
  int r = real(fd, cmd, arg);
  int saved = errno;
  record_file_lock_wait(fd, "fcntl lock", start, now_ns());
  in_hook = saved_hook;
  errno = saved;
  return r;
}

// fcntl64 is what programs built with 64-bit file offsets (most of Debian) call.
int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  unsigned long arg = va_arg(ap, unsigned long);
  va_end(ap);
  return fcntl_hook(real_fcntl, fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  unsigned long arg = va_arg(ap, unsigned long);
  va_end(ap);
  return fcntl_hook(real_fcntl64 ? real_fcntl64 : real_fcntl, fd, cmd, arg);
}

// MARK: - Sleeps glibc makes without the PLT (usleep and sleep call nanosleep internally)

int usleep(useconds_t us) {
  if (!real_usleep) {
    struct timespec t = {us / 1000000, (long)(us % 1000000) * 1000};
    return (int)syscall(SYS_nanosleep, &t, 0);
  }
  TIMED_WAIT(real_usleep(us), "usleep", -1)
}

unsigned sleep(unsigned seconds) {
  ENSURE(sleep);
  TIMED_WAIT(real_sleep(seconds), "sleep", -1)
}

/// The end of a read or write on `fd` that began at `start`: its bytes counted on the
/// descriptor (one clock read for both), the call recorded when it waited.
static void io_done(const char *name, int fd, uint64_t start, long requested, long moved, int written) {
  uint64_t end = now_ns();
  count_bytes(fd, moved, written, end - start);
  emit_io_sized(name, fd, start, end, requested, moved);
}

// A read or write family call: its bytes counted on the descriptor, recorded when it waited.
#define COUNTED_IO(call, name, fd, requested, written)                         \
  uint64_t start = now_ns();                                                   \
  int saved_hook = in_hook;                                                    \
  in_hook = 1;                                                                 \
  ssize_t result = call;                                                       \
  int saved = errno;                                                           \
  if (!saved_hook && trace_fd >= 0) {                                          \
    io_done(name, fd, start, (long)(requested), (long)result, written);        \
  }                                                                            \
  in_hook = saved_hook;                                                        \
  errno = saved;                                                               \
  return result;

ssize_t read(int fd, void *b, size_t n) {
  if (!real_read) return syscall(SYS_read, fd, b, n);
  COUNTED_IO(real_read(fd, b, n), "read", fd, n, 0)
}

ssize_t write(int fd, const void *b, size_t n) {
  if (!real_write || fd == trace_fd) return syscall(SYS_write, fd, b, n);
  COUNTED_IO(real_write(fd, b, n), "write", fd, n, 1)
}

ssize_t recv(int fd, void *b, size_t n, int f) {
  ENSURE(recv);
  COUNTED_IO(real_recv(fd, b, n, f), "recv", fd, n, 0)
}

ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) {
  ENSURE(recvfrom);
  COUNTED_IO(real_recvfrom(fd, b, n, f, a, l), "recvfrom", fd, n, 0)
}

ssize_t send(int fd, const void *b, size_t n, int f) {
  ENSURE(send);
  COUNTED_IO(real_send(fd, b, n, f), "send", fd, n, 1)
}

ssize_t sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) {
  ENSURE(sendto);
  COUNTED_IO(real_sendto(fd, b, n, f, a, l), "sendto", fd, n, 1)
}

// MARK: - stdio: reads and writes glibc makes without the PLT
//
// fread, fgets, getline and fwrite fill and drain their FILE's buffer with glibc's internal read
// and write, which the hooks above never see: a program reading a pipe or a socket through
// stdio would wait unseen. Each is wrapped: while the buffer can serve the call (data to read,
// room to write — glibc's FILE fields, read before the call) it goes straight to the real
// function; only a call that will refill or flush is timed, recorded like read/write when it
// waited, and its bytes counted on the descriptor.

static inline int stdio_reads_ahead(FILE *f, size_t n) {
  return f->_IO_read_ptr && f->_IO_read_end >= f->_IO_read_ptr && (size_t)(f->_IO_read_end - f->_IO_read_ptr) >= n;
}

/// Whether the FILE's buffer already holds the end of a line (then fgets/getline read nothing).
static inline int buffered_line(FILE *f) {
  return f->_IO_read_ptr && f->_IO_read_end > f->_IO_read_ptr &&
         memchr(f->_IO_read_ptr, '\n', (size_t)(f->_IO_read_end - f->_IO_read_ptr)) != 0;
}

#define STDIO_IO(call, name, f, requested, written, moved_expr)                      \
  uint64_t start = now_ns();                                                       \
  int saved_hook = in_hook;                                                        \
  in_hook = 1;                                                                     \
  __typeof__(call) result = call;                                                  \
  int saved = errno;                                                               \
  if (!saved_hook && trace_fd >= 0) {                                              \
    io_done(name, fileno_unlocked(f), start, (long)(requested), (long)(moved_expr), written); \
  }                                                                                \
  in_hook = saved_hook;                                                            \
  errno = saved;                                                                   \
  return result;

size_t fread(void *p, size_t size, size_t n, FILE *f) {
  ENSURE(fread);
  if (in_hook || trace_fd < 0 || stdio_reads_ahead(f, size * n)) return real_fread(p, size, n, f);
  STDIO_IO(real_fread(p, size, n, f), "fread", f, size * n, 0, result * size)
}

char *fgets(char *s, int n, FILE *f) {
  ENSURE(fgets);
  // A line already in the buffer (its end is there) needs no read.
  if (in_hook || trace_fd < 0 || n <= 0 ||
      buffered_line(f))
    return real_fgets(s, n, f);
  STDIO_IO(real_fgets(s, n, f), "fgets", f, n, 0, result ? strlen(result) : 0)
}

ssize_t getline(char **line, size_t *size, FILE *f) {
  ENSURE(getline);
  if (in_hook || trace_fd < 0 ||
      buffered_line(f))
    return real_getline(line, size, f);
  STDIO_IO(real_getline(line, size, f), "getline", f, -1, 0, result > 0 ? result : 0)
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
  ENSURE(fwrite);
  // Room in the buffer: the write is a copy, no system call.
  if (in_hook || trace_fd < 0 ||
      (f->_IO_write_ptr && f->_IO_buf_end >= f->_IO_write_ptr && (size_t)(f->_IO_buf_end - f->_IO_write_ptr) > size * n))
    return real_fwrite(p, size, n, f);
  STDIO_IO(real_fwrite(p, size, n, f), "fwrite", f, size * n, 1, result * size)
}

// A descriptor about to close: what it moved goes to its object first (the number may be
// reused at once).
int close(int fd) {
  ENSURE(close);
  if (fd >= 0 && fd < FD_SLOTS) __atomic_store_n(&fd_channel[fd], 0, __ATOMIC_RELAXED);
  if (fd >= 0 && fd < FD_SLOTS && !in_hook && trace_fd >= 0 && fd != trace_fd &&
      (__atomic_load_n(&fd_bytes[fd].r, __ATOMIC_RELAXED) || __atomic_load_n(&fd_bytes[fd].w, __ATOMIC_RELAXED))) {
    in_hook = 1;
    harvest_io(fd);
    in_hook = 0;
  }
  return real_close(fd);
}

int accept(int fd, struct sockaddr *a, socklen_t *l) { TIMED_WAIT(real_accept(fd, a, l), "accept", fd) }

int accept4(int fd, struct sockaddr *a, socklen_t *l, int f) { TIMED_WAIT(real_accept4(fd, a, l, f), "accept", fd) }

int connect(int fd, const struct sockaddr *a, socklen_t l) { TIMED_WAIT(real_connect(fd, a, l), "connect", fd) }

// MARK: - Event loops seen from outside
//
// An event loop is a thread that polls at one call site again and again; one iteration is the
// time from the return of that poll to its next call. Each thread keeps a few (call site,
// descriptor) keys of its polls with their counts; its loop's poll is the key of the highest
// class (epoll_wait, then a poll or select over several descriptors, then over one: loops
// multiplex, a blocking client waits on its own socket) and, within a class, the most calls
// (another key takes over only with twice the calls). A poll at another key inside an
// iteration is a blocking call made by the loop's work — recorded like any call that waits,
// with its site, so the analysis tells it from the loop idling. An iteration that reached
// CCTRACE_LOOP_ITERATION_MS (default 20, below the analysis's slow-callback threshold) is
// written as `loop iteration` with its CPU time: the thread reads its own CPU clock (a system
// call) only at the end of a long iteration, and takes the CPU at the iteration's start from
// the sampler, which notes every thread's CPU when it first sees an iteration in progress;
// the stretch before that note is counted at the rate after it. Iterations shorter than the
// sampler's period may end unseen: they are written without cpu_ms.
#define LOOP_KEYS 4
typedef struct {
  void *site;
  int key;
  int cls;
  unsigned calls;
} poll_key_t;
static __thread poll_key_t poll_keys[LOOP_KEYS] __attribute__((tls_model("initial-exec")));
static __thread int loop_key __attribute__((tls_model("initial-exec"))) = -1;
static __thread uint64_t iteration_start __attribute__((tls_model("initial-exec"))) = 0;

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// Whether a poll at (`site`, `key`) of class `cls` is this thread's loop poll.
static int is_loop_poll(void *site, int cls, int key) {
  int i = 0;
  while (i < LOOP_KEYS && !(poll_keys[i].site == site && poll_keys[i].key == key)) i++;
  if (i == LOOP_KEYS) {
    // Replace the key with the fewest calls (never the loop's).
    int victim = -1;
    for (int k = 0; k < LOOP_KEYS; k++)
      if (k != loop_key && (victim < 0 || poll_keys[k].calls < poll_keys[victim].calls)) victim = k;
    i = victim;
    poll_keys[i] = (poll_key_t){site, key, cls, 0};
  }
  poll_keys[i].calls++;
  if (i != loop_key && poll_keys[i].calls >= 3) {
    const poll_key_t *loop = loop_key >= 0 ? &poll_keys[loop_key] : 0;
    if (!loop || cls > loop->cls || (cls == loop->cls && poll_keys[i].calls >= 2 * loop->calls)) {
      loop_key = i;
      iteration_start = 0;
    }
  }
  return i == loop_key;
}

static void put_ms(line_t *l, uint64_t ns) {
  put_u(l, ns / 1000000);
  char frac[5] = {'.', (char)('0' + ns / 100000 % 10), (char)('0' + ns / 10000 % 10), (char)('0' + ns / 1000 % 10), 0};
  put(l, frac);
}


/// The end of a loop iteration (the loop polls again at `now`): written if it was long.
static void iteration_end(int slot, void *site, uint64_t now) {
  uint64_t start = iteration_start;
  if (!start || (long)(now - start) < loop_iteration_ns) return;
  line_t args = {.n = 0};
  put(&args, "\"" CCTRACE_ARG_SITE "\":\"");
  put_site(&args, site);
  put(&args, "\"");
  if (slot >= 0 && __atomic_load_n(&poll_counts[slot].seen_start, __ATOMIC_ACQUIRE) == start) {
    uint64_t run0 = poll_counts[slot].seen_run, at = poll_counts[slot].seen_at;
    uint64_t run1 = thread_cpu_ns();
    if (run1 >= run0 && now > at && at >= start) {
      double cpu = (double)(run1 - run0) * (double)(now - start) / (double)(now - at);
      if (cpu > (double)(now - start)) cpu = (double)(now - start);
      put(&args, ",\"" CCTRACE_ARG_CPU_MS "\":");
      put_ms(&args, (uint64_t)cpu);
    }
  }
  args.b[args.n] = 0;
  emit_span(CCTRACE_CAT_PRELOAD, CCTRACE_EV_LOOP_ITERATION, start, now, args.b);
}

/// A poll-family call (`cls`: 3 epoll, 2 several descriptors, 1 one), timed; a loop's poll ends
/// the iteration before it and starts the next when it returns. Recorded when it waited at
/// least CCTRACE_IO_MIN_US, with its call site.
#define POLL_WAIT(call, name, cls, key)                                              \
  void *site = __builtin_return_address(0);                                          \
  int slot = count_poll();                                                           \
  uint64_t start = now_ns();                                                         \
  int saved_hook = in_hook;                                                          \
  int traced = !saved_hook && trace_fd >= 0;                                         \
  int loop = traced && is_loop_poll(site, cls, key);                                 \
  in_hook = 1;                                                                       \
  if (loop) {                                                                        \
    iteration_end(slot, site, start);                                                \
    if (slot >= 0) __atomic_store_n(&poll_counts[slot].iter_start, 0, __ATOMIC_RELAXED); \
  }                                                                                  \
  __typeof__(call) result = call;                                                    \
  int saved = errno;                                                                 \
  uint64_t end = now_ns();                                                           \
  if (traced && (long)(end - start) >= io_min_ns) {                                  \
    line_t args = {.n = 0};                                                          \
    put(&args, "\"" CCTRACE_ARG_SITE "\":\"");                                       \
    put_site(&args, site);                                                           \
    put(&args, "\"");                                                                \
    args.b[args.n] = 0;                                                              \
    emit_span(CCTRACE_CAT_PRELOAD, name, start, end, args.b);                        \
  }                                                                                  \
  if (loop) {                                                                        \
    iteration_start = end;                                                           \
    if (slot >= 0) __atomic_store_n(&poll_counts[slot].iter_start, end, __ATOMIC_RELEASE); \
  }                                                                                  \
  in_hook = saved_hook;                                                              \
  errno = saved;                                                                     \
  return result;

static int poll_key(struct pollfd *f, nfds_t n) { return n ? f[0].fd + (int)(n << 16) : 0; }

int poll(struct pollfd *f, nfds_t n, int t) {
  ENSURE(poll);
  POLL_WAIT(real_poll(f, n, t), "poll", n > 1 ? 2 : 1, poll_key(f, n))
}

int ppoll(struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *s) {
  ENSURE(ppoll);
  POLL_WAIT(real_ppoll(f, n, t, s), "poll", n > 1 ? 2 : 1, poll_key(f, n))
}

int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) {
  ENSURE(select);
  POLL_WAIT(real_select(n, r, w, e, t), "select", 2, n)
}

int epoll_wait(int fd, struct epoll_event *e, int n, int t) {
  ENSURE(epoll_wait);
  POLL_WAIT(real_epoll_wait(fd, e, n, t), "epoll_wait", 3, fd)
}

int epoll_pwait(int fd, struct epoll_event *e, int n, int t, const sigset_t *m) {
  ENSURE(epoll_pwait);
  POLL_WAIT(real_epoll_pwait(fd, e, n, t, m), "epoll_pwait", 3, fd)
}

int nanosleep(const struct timespec *r, struct timespec *rem) {
  TIMED_WAIT(real_nanosleep(r, rem), "nanosleep", -1)
}

int clock_nanosleep(clockid_t c, int f, const struct timespec *r, struct timespec *rem) {
  TIMED_WAIT(real_clock_nanosleep(c, f, r, rem), "clock_nanosleep", -1)
}
