// cctrace_native.h — the parts of the recorder that must be C.
//
// Swift cannot declare a thread-local variable, read the TSC, or do atomics on raw memory that
// it shares with C, and a signal handler is safest when it is written where every instruction
// is visible. Everything here is small and `static inline` so the Swift hot path compiles to
// straight-line code: one TLS load, a bounds check, a 32-byte store, a release store.
#ifndef CCTRACE_NATIVE_H
#define CCTRACE_NATIVE_H

#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Events

/// One fixed-size record in a thread buffer. The writer turns it into one JSON line.
///
/// `name` is either a pointer to the bytes of a `StaticString` (`name_len` bytes, not
/// NUL-terminated) or, when `flags & CCTRACE_FLAG_INTERNED`, an interned string id.
typedef struct cctrace_event {
  uint64_t ts;        // begin, in clock ticks (see cctrace_now)
  uint64_t end;       // end in ticks for spans; a value for counters; an id for async events
  uint64_t name;      // StaticString bytes, or an interned id
  uint32_t aux;       // args: 1 + offset into the chunk arena, 0 when none
  uint16_t name_len;  // length of a StaticString name
  uint8_t kind;       // cctrace_kind
  uint8_t flags;      // CCTRACE_FLAG_*
} cctrace_event;

_Static_assert(sizeof(cctrace_event) == 32, "events are 32 bytes");

enum {
  CCTRACE_FLAG_INTERNED = 1,
  CCTRACE_FLAG_MONOTONIC_NS = 2,  // `ts`/`end` are CLOCK_MONOTONIC nanoseconds, not ticks
};

/// A block of events owned by one thread. Only the owning thread writes `events` and `arena`;
/// it publishes events through its state's `cursor`. When it moves to another chunk it stores
/// the final count in `committed` and then links `next` (both with release), so a writer that
/// sees `next` may trust `committed`.
typedef struct cctrace_chunk {
  uint64_t committed;  // final event count, valid once `next` is set
  struct cctrace_chunk *next;
  uint32_t capacity;
  uint32_t arena_capacity;
  uint32_t arena_used;
  uint32_t reserved;
  cctrace_event *events;
  uint8_t *arena;
} cctrace_chunk;

/// Per-thread recording state, reached through a thread-local pointer. The hot path reads
/// `cursor`, `limit` and `generation` (one cache line) and writes `cursor`.
typedef struct cctrace_thread_state {
  cctrace_event *cursor;  // next free slot; owner stores with release, the writer loads acquire
  cctrace_event *limit;   // end of the current chunk's events
  uint64_t generation;    // session generation this state was registered in
  cctrace_chunk *current;
  uint64_t dropped;       // events lost for lack of buffer; owner writes, writer reads (relaxed)
  uint32_t tid;
  uint32_t pid;
  void *owner;            // the Swift ThreadBuffer, unretained
  uint64_t padding[1];    // one cache line per thread: recording threads never share a line
} cctrace_thread_state;  // allocated 64-byte aligned

_Static_assert(sizeof(cctrace_thread_state) == 64, "thread state is one cache line");

extern __thread cctrace_thread_state *cctrace_tls_state;

/// Non-zero while a session records (bit 0); bit 1 asks for per-span thread CPU time. Read on
/// every span; written rarely.
extern volatile int cctrace_enabled_flag;
/// Non-zero when `cctrace_now` reads the TSC instead of CLOCK_MONOTONIC.
extern int cctrace_use_tsc;
/// Generation of the running session; thread states of an older generation re-register.
extern uint64_t cctrace_generation;

/// The calling thread's state (NULL before its first event).
static inline cctrace_thread_state *cctrace_current_state(void) { return cctrace_tls_state; }
static inline void cctrace_clear_current_state(void) { cctrace_tls_state = 0; }
static inline uint64_t cctrace_current_generation(void) { return cctrace_generation; }
/// Whether the running (or last) session reads the TSC.
static inline bool cctrace_clock_is_tsc(void) { return cctrace_use_tsc != 0; }
/// Starts a new session generation; states of older sessions take the slow path once.
static inline void cctrace_begin_generation(int use_tsc) {
  cctrace_use_tsc = use_tsc;
  __atomic_add_fetch(&cctrace_generation, 1, __ATOMIC_SEQ_CST);
}

static inline bool cctrace_is_enabled(void) {
  return __builtin_expect(cctrace_enabled_flag != 0, 0);
}

/// The recording flags in one load: 0 when not recording, bit 1 for thread CPU time.
static inline int cctrace_recording_flags(void) { return cctrace_enabled_flag; }

/// Whether spans should also record thread CPU time (`tts`/`tdur`, a syscall each).
static inline bool cctrace_wants_thread_cpu(void) {
  return __builtin_expect((cctrace_enabled_flag & 2) != 0, 0);
}

/// CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID: a real syscall).
static inline uint64_t cctrace_thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline uint64_t cctrace_rdtsc(void) {
#if defined(__x86_64__)
  uint32_t lo, hi;
  __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
#else
  return 0;
#endif
}

static inline uint64_t cctrace_monotonic_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/// The recorder's clock: TSC ticks or monotonic nanoseconds, converted by the writer.
static inline uint64_t cctrace_now(void) {
  if (__builtin_expect(cctrace_use_tsc != 0, 1)) return cctrace_rdtsc();
  return cctrace_monotonic_ns();
}

/// Appends one event to the calling thread's current chunk. Returns false when the thread has
/// no state for this session or its chunk is full; the caller then takes the slow path.
static inline bool cctrace_append(uint8_t kind, uint8_t flags, uint64_t name, uint16_t name_len,
                                  uint64_t ts, uint64_t end, uint32_t aux) {
  cctrace_thread_state *s = cctrace_tls_state;
  if (__builtin_expect(s == 0, 0)) return false;
  cctrace_event *e = s->cursor;
  if (__builtin_expect(e >= s->limit || s->generation != cctrace_generation, 0)) return false;
  e->ts = ts;
  e->end = end;
  e->name = name;
  e->aux = aux;
  e->name_len = name_len;
  e->kind = kind;
  e->flags = flags;
  __atomic_store_n(&s->cursor, e + 1, __ATOMIC_RELEASE);
  return true;
}

/// The writer's view of how many events of `chunk` (a chunk of `state`) are committed.
/// Sets `*final` when the owner has moved on from the chunk.
static inline uint64_t cctrace_committed(cctrace_thread_state *state, cctrace_chunk *chunk,
                                         bool *final) {
  if (__atomic_load_n(&chunk->next, __ATOMIC_ACQUIRE)) {
    *final = true;
    return __atomic_load_n(&chunk->committed, __ATOMIC_ACQUIRE);
  }
  cctrace_event *cursor = __atomic_load_n(&state->cursor, __ATOMIC_ACQUIRE);
  if (cursor >= chunk->events && cursor <= chunk->events + chunk->capacity) {
    *final = false;
    return (uint64_t)(cursor - chunk->events);
  }
  // The cursor is in another chunk: either the owner finished this one just now (then `next`
  // is set) or it has not yet published its first event here.
  if (__atomic_load_n(&chunk->next, __ATOMIC_ACQUIRE)) {
    *final = true;
    return __atomic_load_n(&chunk->committed, __ATOMIC_ACQUIRE);
  }
  *final = false;
  return 0;
}

/// Moves the owner from its current chunk to `next` (slow path, owner only).
static inline void cctrace_switch_chunk(cctrace_thread_state *state, cctrace_chunk *next) {
  cctrace_chunk *old = state->current;
  __atomic_store_n(&old->committed, (uint64_t)(state->cursor - old->events), __ATOMIC_RELEASE);
  __atomic_store_n(&old->next, next, __ATOMIC_RELEASE);
  state->current = next;
  state->limit = next->events + next->capacity;
  __atomic_store_n(&state->cursor, next->events, __ATOMIC_RELEASE);
}

/// Whether the owner's current chunk has room for one more event.
static inline bool cctrace_has_room(cctrace_thread_state *state) {
  return state->cursor < state->limit;
}

static inline uint64_t cctrace_load_acquire_u64(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void cctrace_store_release_u64(uint64_t *p, uint64_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint64_t cctrace_load_relaxed_u64(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline cctrace_chunk *cctrace_load_next(cctrace_chunk *c) {
  return __atomic_load_n(&c->next, __ATOMIC_ACQUIRE);
}
static inline void cctrace_store_next(cctrace_chunk *c, cctrace_chunk *next) {
  __atomic_store_n(&c->next, next, __ATOMIC_RELEASE);
}
static inline void cctrace_set_enabled(int on) {
  __atomic_store_n(&cctrace_enabled_flag, on, __ATOMIC_SEQ_CST);
}

// MARK: - Threads

/// The kernel thread id of the caller.
uint32_t cctrace_gettid(void);

/// Makes `state` the caller's thread state and arranges for `cctrace_thread_exit_hook` to be
/// called with it when the thread exits.
void cctrace_tls_install(cctrace_thread_state *state);

/// Sets the function called (from the exiting thread) with the state of a thread that exits.
void cctrace_set_thread_exit_hook(void (*hook)(cctrace_thread_state *));

/// Names the calling thread for the OS (at most 15 bytes are kept).
void cctrace_set_thread_name(const char *name);
/// Copies the calling thread's OS name into `buffer`; returns 0 on success.
int cctrace_get_thread_name(char *buffer, unsigned long size);

/// The calling thread's kernel id, cached per thread (one syscall per thread).
static inline uint32_t cctrace_current_tid(void) {
  extern __thread uint32_t cctrace_tls_tid;
  if (__builtin_expect(cctrace_tls_tid == 0, 0)) cctrace_tls_tid = cctrace_gettid();
  return cctrace_tls_tid;
}

// MARK: - Traced locks

/// A futex-based mutex plus what tracing needs: who holds it, and since when someone has been
/// waiting for it. `word` is 0 (free), 1 (held) or 2 (held, and someone may be waiting): the
/// classic three-state futex mutex, whose uncontended lock and unlock are one atomic each,
/// inline. Allocated by Swift, never moved.
typedef struct cctrace_lock {
  uint32_t word;
  uint32_t owner_tid;       // relaxed: read by waiters for the wait-for edge
  uint64_t first_wait_at;   // ticks when the first current waiter began; 0 = nobody waits
} cctrace_lock;

static inline void cctrace_lock_init(cctrace_lock *l) {
  l->word = 0;
  l->owner_tid = 0;
  l->first_wait_at = 0;
}

/// Tries the lock without waiting (the uncontended path). Returns true when acquired.
static inline bool cctrace_lock_try(cctrace_lock *l) {
  uint32_t expected = 0;
  return __atomic_compare_exchange_n(&l->word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}

/// Blocks until the lock is acquired (futex wait).
void cctrace_lock_wait(cctrace_lock *l);
/// Wakes one waiter (futex wake).
void cctrace_lock_wake(cctrace_lock *l);

static inline void cctrace_lock_release(cctrace_lock *l) {
  if (__atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE) == 2) cctrace_lock_wake(l);
}

static inline uint32_t cctrace_lock_owner(cctrace_lock *l) {
  return __atomic_load_n(&l->owner_tid, __ATOMIC_RELAXED);
}
static inline void cctrace_lock_set_owner(cctrace_lock *l, uint32_t tid) {
  __atomic_store_n(&l->owner_tid, tid, __ATOMIC_RELAXED);
}
/// A waiter notes when it began waiting, unless an earlier waiter already did.
static inline void cctrace_lock_note_wait(cctrace_lock *l, uint64_t since) {
  uint64_t none = 0;
  __atomic_compare_exchange_n(&l->first_wait_at, &none, since, false, __ATOMIC_RELAXED,
                              __ATOMIC_RELAXED);
}
/// For the holder at release: when the first waiter began (0 if nobody waited), and clears it.
static inline uint64_t cctrace_lock_take_first_wait(cctrace_lock *l) {
  if (__builtin_expect(__atomic_load_n(&l->first_wait_at, __ATOMIC_RELAXED) == 0, 1)) return 0;
  return __atomic_exchange_n(&l->first_wait_at, 0, __ATOMIC_RELAXED);
}

// MARK: - Start-up and signals

/// A load-time constructor calls `cctrace_swift_autostart` (defined by the CCTrace module with
/// `@_cdecl`) when CCTRACE_OUTPUT is set, so a program that links CCTrace is traced without code
/// changes.

/// Installs handlers for SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTERM and SIGINT that
/// call `flush` once, then restore the previous disposition and re-raise so the process dies
/// the way it would have. Handlers the app installed earlier are chained, not replaced.
void cctrace_install_signal_handlers(void (*flush)(int signo));
void cctrace_uninstall_signal_handlers(void);

/// Registers `fn` with atexit once.
void cctrace_register_atexit(void (*fn)(void));

// MARK: - Small spin lock (used where a Mutex could deadlock a signal handler)

static inline bool cctrace_spin_trylock(int *lock) {
  int expected = 0;
  return __atomic_compare_exchange_n(lock, &expected, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}
static inline void cctrace_spin_unlock(int *lock) { __atomic_store_n(lock, 0, __ATOMIC_RELEASE); }

// MARK: - Watch slots (the blocked-loop watchdog)
//
// A thread running a loop callback or an executor job marks, in its own slot, since when it has
// been busy (`since` in cctrace_now ticks, or CLOCK_MONOTONIC ns when `monotonic`); a loop's
// heartbeat marks since when its beat has been due. The writer thread reads the slots and
// captures the stack of a thread that has been stuck too long. Two stores per callback.

typedef struct {
  int32_t tid;
  uint32_t label;      // interned name of the loop or pool
  uint64_t since;      // 0 = not busy
  uint32_t monotonic;  // `since` is CLOCK_MONOTONIC ns rather than ticks
  uint32_t pad;
} cctrace_watch;

#define CCTRACE_MAX_WATCHES 256
extern cctrace_watch cctrace_watches[CCTRACE_MAX_WATCHES];
extern int cctrace_watch_count;
extern __thread int cctrace_tls_watch;  // this thread's slot + 1, 0 = none yet

/// A new slot for thread `tid` (slot index + 1), or 0 when all are taken.
int cctrace_watch_allocate(int32_t tid);

/// Marks this thread busy with `label`'s work since `ticks` (cctrace_now).
static inline void cctrace_watch_begin(uint32_t label, uint64_t ticks) {
  int i = cctrace_tls_watch;
  if (__builtin_expect(i == 0, 0)) i = cctrace_tls_watch = cctrace_watch_allocate((int32_t)cctrace_current_tid());
  if (i <= 0) return;
  cctrace_watches[i - 1].label = label;
  __atomic_store_n(&cctrace_watches[i - 1].since, ticks, __ATOMIC_RELEASE);
}

/// Marks this thread idle again.
static inline void cctrace_watch_end(void) {
  int i = cctrace_tls_watch;
  if (i > 0) __atomic_store_n(&cctrace_watches[i - 1].since, 0, __ATOMIC_RELEASE);
}

/// Sets slot `slot` (index + 1): thread, label, since (CLOCK_MONOTONIC ns; 0 = clear).
static inline void cctrace_watch_set(int slot, int32_t tid, uint32_t label, uint64_t since_ns) {
  if (slot <= 0) return;
  cctrace_watch *w = &cctrace_watches[slot - 1];
  w->tid = tid;
  w->label = label;
  w->monotonic = 1;
  __atomic_store_n(&w->since, since_ns, __ATOMIC_RELEASE);
}

/// Reads slot `index` (0-based): returns its `since` (0 = idle) and fills the rest.
static inline uint64_t cctrace_watch_read(int index, int32_t *tid, uint32_t *label, uint32_t *monotonic) {
  cctrace_watch *w = &cctrace_watches[index];
  uint64_t since = __atomic_load_n(&w->since, __ATOMIC_ACQUIRE);
  *tid = w->tid;
  *label = w->label;
  *monotonic = w->monotonic;
  return since;
}

static inline int cctrace_watch_slots(void) { return __atomic_load_n(&cctrace_watch_count, __ATOMIC_ACQUIRE); }

/// Flight recorder: installs a handler for `signo` that asks the writer for a dump (only when
/// the program does not handle that signal itself). Returns 1 when installed.
int cctrace_install_dump_signal(int signo);
void cctrace_uninstall_dump_signal(void);
/// Asks the writer for a dump (from any thread, or a signal handler).
void cctrace_request_dump(void);
/// Whether a dump was asked for since the last call (clears the request).
int cctrace_take_dump_request(void);


// MARK: - Swift Concurrency (cctrace_tasks.c)

enum {
  /// A job run by the global executor: `ts`..`end`; `name` the resumed function (a task) or the
  /// actor's type metadata (an actor's processing job); `aux` the task id; `name_len` the job's
  /// low 16 flag bits (kind, priority).
  CCTRACE_KIND_SWIFT_JOB = 14,
  /// Precedes each SWIFT_JOB: `ts` when the job became ready (enqueued, or due after a sleep),
  /// `name` the actor instance (actor jobs) or the task's address, `name_len` the job kind, `end` (tasks)
  /// the entry point in the context prefix, which names the task's body on its first run.
  CCTRACE_KIND_SWIFT_JOB_READY = 15,
  /// A task slept (Task.sleep, a delayed enqueue): `ts`..`end` ticks, `aux` the task id.
  CCTRACE_KIND_SWIFT_SLEEP = 16,
  /// Precedes a task's SWIFT_JOB_READY: the functions its resumed fragment returns to, nearest
  /// first: `ts`, `end`, `name`; `name_len` 0 for the first three, 1 for the next three (written
  /// first).
  CCTRACE_KIND_SWIFT_JOB_CALLERS = 17,
};

/// Swift's slow path for an append that found no room (new thread, full chunk).
typedef void (*cctrace_task_slow_append)(uint8_t kind, uint8_t flags, uint64_t name, uint16_t name_len,
                                         uint64_t ts, uint64_t end, uint32_t aux);
/// Called once per thread, on the first job it runs for the hooks.
typedef void (*cctrace_task_thread_start)(void);

/// Sets the ticks per nanosecond of the session clock (the recorder, when it calibrates the TSC).
void cctrace_tasks_set_ticks_per_ns(double value);

/// Looks up what the hooks need; 1 when the runtime has it. Call before probing.
int cctrace_tasks_prepare(void);
/// Called from a job running on one of the runtime's global queues: remembers that queue for
/// its priority (the hooks send that priority's jobs there).
void cctrace_tasks_probe_current_queue(void);
/// How many probes have run (since the process started).
int cctrace_tasks_probes_done(void);
/// Installs the global-executor hooks (returns 1), or returns 0 when the runtime has none or
/// another hook is in place. `label` names the pool in watch slots.
/// `start_fn` names a pool thread on its first job, `main_start_fn` a thread that drains the
/// main queue (not the process's main thread).
int cctrace_tasks_install(uint32_t label, cctrace_task_slow_append append_fn, cctrace_task_thread_start start_fn,
                          cctrace_task_thread_start main_start_fn);
/// Removes the hooks (jobs already handed over still run).
void cctrace_tasks_uninstall(void);
int cctrace_tasks_installed(void);
/// Jobs that ran the runtime's own way (untraced) because their queue was not known yet.
uint64_t cctrace_tasks_untraced_jobs(void);

#ifdef __cplusplus
}
#endif

#endif
