// Zero-code Swift Concurrency tracing: the runtime's global-executor hooks.
//
// The Swift runtime calls `swift_task_enqueueGlobal_hook` (and its delay and deadline variants)
// for every job it hands to the global (cooperative) executor — a task resuming after a
// suspension, a new child task, an actor's processing job — when the hook is set. These are
// exported variables of libswift_Concurrency; we look them up with dlsym, so a program that
// never records pays nothing and CCTraceNative needs no link-time dependency on the runtime.
//
// While recording, the hook does what the runtime's own Linux executor does (hand the job to the
// runtime's queue of its priority, or to dispatch_after for a delay or deadline) but with a
// runner of ours around `swift_job_run`, so each run becomes one event on the thread that ran it.
// When not recording, the hook calls the runtime's original at once.
//
// Layout facts used (include/swift/ABI/Task.h, stable ABI on 64-bit): a Job is a HeapObject
// (16 bytes), then SchedulerPrivate[2] (reserved for the scheduler, which we now are: we keep
// the time the job became ready in the second word, which the runtime uses only for Dispatch's
// own direct enqueue path, the one we replace), then 32-bit Flags (kind in bits 0-7, priority in
// bits 8-15), a 32-bit Id (a task's id), and at offset 56 the function the job resumes. An
// actor's processing job (kind DefaultActorSeparate) holds its actor at offset 64.

#define _GNU_SOURCE
#include "cctrace_native.h"

#include <stdlib.h>

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <time.h>

#define SWIFTCC __attribute__((swiftcall))

typedef void *cctrace_job;
typedef SWIFTCC void (*enqueue_original)(cctrace_job);
typedef SWIFTCC void (*enqueue_hook)(cctrace_job, enqueue_original);
typedef SWIFTCC void (*delay_original)(unsigned long long, cctrace_job);
typedef SWIFTCC void (*delay_hook)(unsigned long long, cctrace_job, delay_original);
typedef SWIFTCC void (*deadline_original)(long long, long long, long long, long long, int, cctrace_job);
typedef SWIFTCC void (*deadline_hook)(long long, long long, long long, long long, int, cctrace_job,
                                      deadline_original);
// swift_job_run(Job *, SerialExecutorRef): the executor ref is two words (identity,
// implementation); the generic executor is both zero.
typedef SWIFTCC void (*job_run_fn)(cctrace_job, void *, uintptr_t);
// A SerialExecutorRef returned by value: two words, in registers under swiftcc.
typedef struct {
  void *identity;
  uintptr_t implementation;
} executor_ref;

typedef void *dispatch_queue;
typedef uint64_t dispatch_time_value;
static void (*d_async_f)(dispatch_queue, void *, void (*)(void *));
static void (*d_after_f)(dispatch_time_value, dispatch_queue, void *, void (*)(void *));
static dispatch_time_value (*d_time)(dispatch_time_value, int64_t);
static dispatch_queue (*d_get_current_queue)(void);
static const char *(*d_queue_get_label)(dispatch_queue);
static unsigned (*d_queue_get_qos_class)(dispatch_queue, int *);
static job_run_fn job_run;

static enqueue_hook *enqueue_slot;
static enqueue_hook *main_slot;
typedef SWIFTCC executor_ref (*get_main_executor_fn)(void);
static get_main_executor_fn get_main;
static dispatch_queue main_queue;
static delay_hook *delay_slot;
static deadline_hook *deadline_slot;
static int installed = 0;

static double cctrace_tasks_ticks_per_ns = 1.0;
void cctrace_tasks_set_ticks_per_ns(double value) { cctrace_tasks_ticks_per_ns = value; }
static uint32_t pool_label = 0;
static cctrace_task_slow_append slow_append = 0;
static cctrace_task_thread_start thread_start = 0;
static cctrace_task_thread_start main_thread_start = 0;
static __thread uint64_t thread_seen = 0;  // the session generation this thread was named in

enum {
  JOB_FLAGS = 32,
  JOB_ID = 36,
  JOB_RESUME = 56,
  JOB_ACTOR = 64,
  READY_WORD = 24,  // SchedulerPrivate[1]
  ACTOR_FIRST_JOB = 40,      // DefaultActorImpl: ActiveActorStatus {Flags, pad, FirstJob} at 32
  ACTOR_PRIORITY_HEAD = 64,  // …and the head of its priority queue
  TASK_CONTEXT = 64,    // AsyncTask::ResumeContext
  CONTEXT_RESUME_PARENT = 8,  // AsyncContext::ResumeParent
  CONTEXT_PREFIX_ENTRY = 24,  // (Future)AsyncContextPrefix::asyncEntryPoint, before the context
  KIND_TASK = 0,
  // JobKind::First_Reserved is 192: DefaultActorInline, DefaultActorSeparate (the processing
  // job of an actor, allocated beside it, which holds its actor), DefaultActorOverride.
  KIND_ACTOR_INLINE = 192,
  KIND_ACTOR_SEPARATE = 193,
  KIND_ACTOR_OVERRIDE = 194,
};

/// Reads a word where a runtime structure is believed to hold one, without trusting it: through
/// the kernel, so a wrong guess reads nothing instead of faulting. For the rare reads off the
/// hot path (an actor's queue).
static int safe_read(uint64_t address, uint64_t *out) {
  if (address == 0 || (address & 7) != 0) return 0;
  struct iovec local = {out, sizeof *out};
  struct iovec remote = {(void *)(uintptr_t)address, sizeof *out};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof *out;
}

static inline uint32_t job_flags(cctrace_job job) { return *(uint32_t *)((char *)job + JOB_FLAGS); }

static inline void append(uint8_t kind, uint64_t name, uint16_t name_len, uint64_t ts, uint64_t end,
                          uint32_t aux) {
  const uint8_t flags = (uint8_t)(1 << 4) | CCTRACE_FLAG_INTERNED;  // category task
  if (cctrace_append(kind, flags, name, name_len, ts, end, aux)) return;
  if (slow_append) slow_append(kind, flags, name, name_len, ts, end, aux);
}

/// Runs one job the hook handed to Dispatch and records the run.
static executor_ref main_executor;  // (identity, implementation), for jobs of the main queue

/// Runs `job` on `executor` (the generic executor: both zero) and records the run; `pool` says
/// whether the thread is one of the pool's (named as the pool on its first job).
/// The runtime's own function that runs a main-executor job it sent to the main queue.
static void (*main_runner)(void *);

static inline void run_job_on(cctrace_job job, void *identity, uintptr_t implementation, int pool,
                              int main_runtime_job) {
  if (!cctrace_is_enabled()) {
    if (main_runtime_job) main_runner(job);
    else job_run(job, identity, implementation);
    return;
  }
  if (__builtin_expect(thread_seen != cctrace_current_generation(), 0)) {
    thread_seen = cctrace_current_generation();
    // A pool thread is named as the pool; a thread Dispatch drains the main queue on (the
    // process's main thread is parked in dispatch_main) as the main actor's.
    if (pool && thread_start) thread_start();
    if (!pool && main_thread_start && cctrace_gettid() != (uint32_t)getpid()) main_thread_start();
  }
  // Read what names the run before it runs: a task that completes is freed inside.
  uint32_t flags = job_flags(job);
  uint32_t kind = flags & 0xff;
  uint64_t what;
  uint64_t who;
  uint64_t callers[6] = {0, 0, 0, 0, 0, 0};
  uint64_t entry = 0;
  if (kind == KIND_TASK) {
    what = (uint64_t)(uintptr_t) * (void **)((char *)job + JOB_RESUME);
    who = (uint64_t)(uintptr_t)job;  // the task itself: traced tasks are bound by their address
    // Where the resumed fragment returns to, up to six async frames up: when the task resumes in
    // a runtime adapter (after awaiting a child) or inside Task.sleep (four frames of the
    // standard library deep), the app's function that awaited is one of them. The context
    // chain of a task about to run is all alive.
    void *context = *(void **)((char *)job + TASK_CONTEXT);
    // A task's first job resumes in the runtime's adapter (future_adapter, non_future_adapter),
    // which calls the task's body through the prefix just before the initial context: the entry
    // point sits 24 bytes before it in both prefix layouts. The initial context is allocated
    // with the task, so those bytes are the task's own.
    if (context) entry = (uint64_t)(uintptr_t) * (void **)((char *)context - CONTEXT_PREFIX_ENTRY);
    for (int i = 0; i < 6 && context; i++) {
      callers[i] = (uint64_t)(uintptr_t) * (void **)((char *)context + CONTEXT_RESUME_PARENT);
      context = *(void **)context;  // AsyncContext::Parent
    }
  } else if (kind >= KIND_ACTOR_INLINE && kind <= KIND_ACTOR_OVERRIDE) {
    void *actor = kind == KIND_ACTOR_SEPARATE ? *(void **)((char *)job + JOB_ACTOR) : 0;
    what = actor ? (uint64_t)(uintptr_t) * (void **)actor : 0;  // the actor's type metadata
    who = (uint64_t)(uintptr_t)actor;
    // The method a queued task waits to run on it, best effort: the actor's status (flags, then
    // the newest queued job) sits at offset 32 of the actor in this runtime, and jobs a drain
    // left behind wait in its priority queue, whose head is at offset 64. Either job, when it
    // is a task, resumes in the actor method it waits for. The actor is not running (its
    // processing job is about to), so a queued job stays alive until this run drains it; the
    // reads go through the kernel, so a layout that differs reads nothing rather than faults,
    // and the writer keeps the name only when it is the app's function.
    static const uint64_t queue_words[] = {ACTOR_FIRST_JOB, ACTOR_PRIORITY_HEAD};
    for (int q = 0; q < 2 && actor && entry == 0; q++) {
      uint64_t queued = 0, flags_word = 0, resume = 0;
      if (!safe_read((uint64_t)(uintptr_t)actor + queue_words[q], &queued)) continue;
      queued &= ~(uint64_t)15;  // jobs are 16-byte aligned; low bits may carry flags
      if (!queued || !safe_read(queued + JOB_FLAGS, &flags_word) || (flags_word & 0xff) != KIND_TASK) continue;
      if (safe_read(queued + JOB_RESUME, &resume)) entry = resume;
    }
  } else {
    what = (uint64_t)(uintptr_t) * (void **)((char *)job + JOB_RESUME);
    who = 0;
  }
  // The ready time, where the hooks kept it; a job the runtime itself sent to the main queue
  // keeps its executor queue in that word, which its runner reads back: no ready time there.
  uint64_t ready = main_runtime_job ? 0 : *(uint64_t *)((char *)job + READY_WORD);
  uint32_t id = kind == KIND_TASK ? *(uint32_t *)((char *)job + JOB_ID) : 0;
  uint64_t start = cctrace_now();
  if (pool) cctrace_watch_begin(pool_label, start);
  if (main_runtime_job) main_runner(job);
  else job_run(job, identity, implementation);
  if (pool) cctrace_watch_end();
  uint64_t end = cctrace_now();
  // Two records: when the job became ready and which instance it is, then the run itself.
  if (callers[3]) append(CCTRACE_KIND_SWIFT_JOB_CALLERS, callers[5], 1, callers[3], callers[4], 0);
  if (callers[0]) append(CCTRACE_KIND_SWIFT_JOB_CALLERS, callers[2], 0, callers[0], callers[1], 0);
  append(CCTRACE_KIND_SWIFT_JOB_READY, who, (uint16_t)kind, ready, entry, 0);
  append(CCTRACE_KIND_SWIFT_JOB, what, (uint16_t)(flags & 0xffff), start, end, id);
}

// The runtime's own queues, one per job priority: on Linux it creates for each priority a
// concurrent queue "Swift global concurrent queue" as wide as the CPUs (its cooperative pool).
// Jobs must run there and nowhere else, or tracing would change the program's concurrency (a
// root queue grows threads when they block). The runtime keeps them to itself, so they are
// found from inside: a hook called by a job running on one of them (nearly every enqueue: a
// task enqueues its children and its own continuations) sees it as the current queue.
// Until a priority's queue is known, its jobs go the runtime's own way, untraced.
static dispatch_queue runtime_queues[256];
static const char runtime_queue_label[] = "Swift global concurrent queue";
static uint64_t untraced_jobs = 0;

static void run_job(void *context) { run_job_on(context, 0, 0, 1, 0); }

static void run_main_job(void *context) {
  run_job_on(context, main_executor.identity, main_executor.implementation, 0, 0);
}

/// Registers the queue the caller runs on when it is one of the runtime's; returns its QoS
/// (or -1).
static int register_current_queue(void) {
  if (!d_get_current_queue) return -1;
  dispatch_queue current = d_get_current_queue();
  if (!current) return -1;
  const char *label = d_queue_get_label(current);
  if (!label || strcmp(label, runtime_queue_label) != 0) return -1;
  int relative = 0;
  unsigned qos = d_queue_get_qos_class(current, &relative);
  if (qos > 0xff) return -1;
  __atomic_store_n(&runtime_queues[qos], current, __ATOMIC_RELEASE);
  return (int)qos;
}

static int probes_done = 0;

void cctrace_tasks_probe_current_queue(void) {
  (void)register_current_queue();
  __atomic_add_fetch(&probes_done, 1, __ATOMIC_RELEASE);
}

int cctrace_tasks_probes_done(void) { return __atomic_load_n(&probes_done, __ATOMIC_ACQUIRE); }

static dispatch_queue queue_for(cctrace_job job) {
  unsigned priority = (job_flags(job) >> 8) & 0xff;
  dispatch_queue q = __atomic_load_n(&runtime_queues[priority], __ATOMIC_ACQUIRE);
  if (__builtin_expect(q != 0, 1)) return q;
  return register_current_queue() == (int)priority ? runtime_queues[priority] : 0;
}

uint64_t cctrace_tasks_untraced_jobs(void) { return __atomic_load_n(&untraced_jobs, __ATOMIC_RELAXED); }

static inline void mark_ready(cctrace_job job, uint64_t at) { *(uint64_t *)((char *)job + READY_WORD) = at; }

static SWIFTCC void hook_enqueue(cctrace_job job, enqueue_original original) {
  if (!cctrace_is_enabled()) {
    original(job);
    return;
  }
  dispatch_queue queue = queue_for(job);
  if (__builtin_expect(!queue, 0)) {
    __atomic_add_fetch(&untraced_jobs, 1, __ATOMIC_RELAXED);
    original(job);
    return;
  }
  mark_ready(job, cctrace_now());
  d_async_f(queue, job, run_job);
}

/// Ticks `ns` nanoseconds from now, for the run's ready time after a sleep.
static inline uint64_t ticks_after(uint64_t ns) {
  uint64_t now = cctrace_now();
  if (!cctrace_clock_is_tsc()) return now + ns;
  return now + (uint64_t)((double)ns * cctrace_tasks_ticks_per_ns);
}

static int after(uint64_t delay_ns, cctrace_job job) {
  dispatch_queue queue = queue_for(job);
  if (!queue) {
    __atomic_add_fetch(&untraced_jobs, 1, __ATOMIC_RELAXED);
    return 0;
  }
  if (delay_ns > (uint64_t)INT64_MAX) delay_ns = (uint64_t)INT64_MAX;
  uint64_t now = cctrace_now();
  uint64_t due = ticks_after(delay_ns);
  // The sleep itself, on the thread that slept the task: which task (aux) from when to when.
  if (job_flags(job) % 256 == KIND_TASK)
    append(CCTRACE_KIND_SWIFT_SLEEP, 0, 0, now, due, *(uint32_t *)((char *)job + JOB_ID));
  mark_ready(job, due);
  d_after_f(d_time(0 /* DISPATCH_TIME_NOW */, (int64_t)delay_ns), queue, job, run_job);
  return 1;
}

// Swift 6.3's main executor on Linux is Swift code that sends the main actor's jobs to Dispatch's
// main queue with dispatch_async_f and calls no hook. So CCTrace defines dispatch_async_f: the
// program's own definition comes first in the dynamic linker's search, so the Swift runtime's
// calls into libdispatch reach it (symbol interposition, as LD_PRELOAD does). It forwards every
// call to libdispatch's (one compare when not recording); while recording, a call from the
// Swift runtime onto the main queue carries a job, and is sent on with a runner that records the
// run around the runtime's own.
typedef void (*dispatch_work)(void *);
static void (*real_async_f)(dispatch_queue, void *, dispatch_work);
static int main_interposing = 0;
static uintptr_t concurrency_start, concurrency_end;  // libswift_Concurrency's image

static void run_main_runtime_job(void *job) { run_job_on(job, 0, 0, 0, 1); }

void dispatch_async_f(dispatch_queue queue, void *context, dispatch_work work) {
  if (__builtin_expect(!real_async_f, 0)) {
    real_async_f = (void (*)(dispatch_queue, void *, dispatch_work))dlsym(RTLD_NEXT, "dispatch_async_f");
    if (!real_async_f) abort();  // no libdispatch: nothing could have called this
  }
  if (__builtin_expect(__atomic_load_n(&main_interposing, __ATOMIC_RELAXED), 0) && queue == main_queue &&
      cctrace_is_enabled() && (uintptr_t)work >= concurrency_start && (uintptr_t)work < concurrency_end) {
    if (!main_runner) main_runner = work;
    if (work == main_runner) {
      real_async_f(queue, context, run_main_runtime_job);
      return;
    }
  }
  real_async_f(queue, context, work);
}

// The main executor's jobs (the main actor's) go to Dispatch's main queue, as the runtime's own
// Linux main executor sends them, run against the main executor.
static SWIFTCC void hook_main(cctrace_job job, enqueue_original original) {
  if (!cctrace_is_enabled() || !main_queue || !main_executor.identity) {
    original(job);
    return;
  }
  mark_ready(job, cctrace_now());
  d_async_f(main_queue, job, run_main_job);
}

static SWIFTCC void hook_delay(unsigned long long delay, cctrace_job job, delay_original original) {
  if (!cctrace_is_enabled()) {
    original(delay, job);
    return;
  }
  if (!after(delay, job)) original(delay, job);
}

static SWIFTCC void hook_deadline(long long sec, long long nsec, long long tsec, long long tnsec, int clock,
                                  cctrace_job job, deadline_original original) {
  // Clocks the runtime knows on Linux: 1 continuous (CLOCK_BOOTTIME), 2 suspending
  // (CLOCK_MONOTONIC). Any other goes to the runtime untouched.
  if (!cctrace_is_enabled() || (clock != 1 && clock != 2)) {
    original(sec, nsec, tsec, tnsec, clock, job);
    return;
  }
  struct timespec now;
  clock_gettime(clock == 1 ? CLOCK_BOOTTIME : CLOCK_MONOTONIC, &now);
  long long delta = (sec - (long long)now.tv_sec) * 1000000000ll + (nsec - (long long)now.tv_nsec);
  if (!after(delta > 0 ? (uint64_t)delta : 0, job)) original(sec, nsec, tsec, tnsec, clock, job);
}

/// The extent of the loaded image that starts at `base` (its highest loaded segment's end).
static uintptr_t runtime_image_size(void *base);

/// Looks up what the hooks need (once): 1 when everything is there.
static int resolve(void) {
  static int resolved = -1;
  if (resolved >= 0) return resolved;
  resolved = 0;
  void *self = dlopen(0, RTLD_NOW);
  if (!self) return 0;
  enqueue_slot = (enqueue_hook *)dlsym(self, "swift_task_enqueueGlobal_hook");
  delay_slot = (delay_hook *)dlsym(self, "swift_task_enqueueGlobalWithDelay_hook");
  deadline_slot = (deadline_hook *)dlsym(self, "swift_task_enqueueGlobalWithDeadline_hook");
  job_run = (job_run_fn)dlsym(self, "swift_job_run");
  d_async_f = (void (*)(dispatch_queue, void *, void (*)(void *)))dlsym(RTLD_NEXT, "dispatch_async_f");
  d_after_f =
      (void (*)(dispatch_time_value, dispatch_queue, void *, void (*)(void *)))dlsym(self, "dispatch_after_f");
  d_time = (dispatch_time_value(*)(dispatch_time_value, int64_t))dlsym(self, "dispatch_time");
  d_queue_get_label = (const char *(*)(dispatch_queue))dlsym(self, "dispatch_queue_get_label");
  d_queue_get_qos_class = (unsigned (*)(dispatch_queue, int *))dlsym(self, "dispatch_queue_get_qos_class");
  dispatch_queue (*current)(void) = (dispatch_queue(*)(void))dlsym(self, "dispatch_get_current_queue");
  if (!enqueue_slot || !delay_slot || !deadline_slot || !job_run || !d_async_f || !d_after_f || !d_time ||
      !current || !d_queue_get_label || !d_queue_get_qos_class)
    return 0;
  main_slot = (enqueue_hook *)dlsym(self, "swift_task_enqueueMainExecutor_hook");
  get_main = (get_main_executor_fn)dlsym(self, "swift_task_getMainExecutor");
  main_queue = (dispatch_queue)dlsym(self, "_dispatch_main_q");
  d_get_current_queue = current;
  resolved = 1;
  return 1;
}

int cctrace_tasks_prepare(void) { return resolve(); }

int cctrace_tasks_install(uint32_t label, cctrace_task_slow_append append_fn, cctrace_task_thread_start start_fn,
                          cctrace_task_thread_start main_start_fn) {
  if (installed) return 1;
  if (!resolve()) return 0;
  // Someone else (a test harness, another tool) owns the hooks: leave them alone.
  if (*enqueue_slot || *delay_slot || *deadline_slot) return 0;
  pool_label = label;
  __atomic_store_n(&untraced_jobs, 0, __ATOMIC_RELAXED);
  slow_append = append_fn;
  thread_start = start_fn;
  main_thread_start = main_start_fn;
  __atomic_store_n(delay_slot, hook_delay, __ATOMIC_RELEASE);
  __atomic_store_n(deadline_slot, hook_deadline, __ATOMIC_RELEASE);
  __atomic_store_n(enqueue_slot, hook_enqueue, __ATOMIC_RELEASE);
  // The main executor too, when the runtime says which it is and Dispatch's main queue exists.
  // Where the runtime's code is, to tell its main-queue jobs from other work sent there.
  Dl_info info;
  if (job_run && main_queue && dladdr((void *)job_run, &info) && info.dli_fbase) {
    concurrency_start = (uintptr_t)info.dli_fbase;
    concurrency_end = concurrency_start + runtime_image_size(info.dli_fbase);
    if (concurrency_end > concurrency_start) __atomic_store_n(&main_interposing, 1, __ATOMIC_RELEASE);
  }
  if (main_slot && get_main && main_queue && *main_slot == 0) {
    main_executor = get_main();
    if (main_executor.identity) __atomic_store_n(main_slot, hook_main, __ATOMIC_RELEASE);
  }
  installed = 1;
  return 1;
}

void cctrace_tasks_uninstall(void) {
  if (!installed) return;
  // Jobs already handed to Dispatch still run through run_job, which needs nothing removed here.
  if (*enqueue_slot == hook_enqueue) __atomic_store_n(enqueue_slot, (enqueue_hook)0, __ATOMIC_RELEASE);
  if (*delay_slot == hook_delay) __atomic_store_n(delay_slot, (delay_hook)0, __ATOMIC_RELEASE);
  if (*deadline_slot == hook_deadline) __atomic_store_n(deadline_slot, (deadline_hook)0, __ATOMIC_RELEASE);
  if (main_slot && *main_slot == hook_main) __atomic_store_n(main_slot, (enqueue_hook)0, __ATOMIC_RELEASE);
  installed = 0;
}

int cctrace_tasks_installed(void) { return installed; }

#include <link.h>

struct image_query {
  uintptr_t base;
  uintptr_t size;
};

static int find_image(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct image_query *q = data;
  uintptr_t lowest = UINTPTR_MAX, highest = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t start = info->dlpi_addr + ph->p_vaddr;
    if (start < lowest) lowest = start;
    if (start + ph->p_memsz > highest) highest = start + ph->p_memsz;
  }
  if (lowest == q->base || info->dlpi_addr == q->base) {
    q->size = highest - q->base;
    return 1;
  }
  return 0;
}

static uintptr_t runtime_image_size(void *base) {
  struct image_query q = {(uintptr_t)base, 0};
  dl_iterate_phdr(find_image, &q);
  return q.size;
}
