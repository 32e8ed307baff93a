// cctrace_sampler.h — stacks captured in a signal handler: a CPU-time sampling profiler
// (per-thread CPU-clock timers) and on-demand captures of one thread (the blocked-loop
// watchdog). The handler is async-signal-safe: no allocation, no locks, errno saved; it copies
// the interrupted registers and the top of the stack into a preallocated ring, and the
// recorder's writer unwinds the copies when it drains them (cctrace_cfi.h).
#ifndef CCTRACE_SAMPLER_H
#define CCTRACE_SAMPLER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Deepest stack a sample keeps.
#define CCTRACE_SAMPLE_MAX_DEPTH 64

/// One captured stack.
typedef struct {
  int32_t tid;
  int16_t depth;
  /// 0: the CPU-time timer fired; 1: an on-demand capture (`cctrace_sampler_capture`).
  int16_t kind;
  /// CLOCK_MONOTONIC nanoseconds.
  uint64_t timestamp;
  /// Handler time, nanoseconds (what the capture cost the sampled thread).
  uint64_t cost;
  void *frames[CCTRACE_SAMPLE_MAX_DEPTH];
} cctrace_sample;

/// Installs the SIGPROF handler and reserves the ring (`capacity` samples, rounded up to a
/// power of two, each with room for `stack_bytes` of copied stack). `depth` is clamped to
/// 1…CCTRACE_SAMPLE_MAX_DEPTH. Returns 1 on success; 0 when the program already handles
/// SIGPROF (cctrace then leaves it alone) or memory cannot be reserved. Where the kernel
/// forbids process_vm_readv on ourselves (a seccomp profile), samples keep only the interrupted
/// instruction.
int cctrace_sampler_install(int depth, int capacity, int stack_bytes);


/// Whether the handler is installed.
int cctrace_sampler_installed(void);

/// Starts sampling every thread of the process except `exclude_tid` every `period_ns` of
/// that thread's CPU time; call it periodically: it arms timers for new threads and deletes
/// those of threads that ended. `period_ns` 0 stops all timers. Returns the threads sampled.
int cctrace_sampler_sync_threads(long period_ns, int exclude_tid);

/// Asks thread `tid` of this process to capture its stack now (kind 1). Returns 1 if sent.
int cctrace_sampler_capture(int tid);

/// Moves up to `max` captured samples into `out` (in no particular order), unwinding each
/// copied stack. Not async-signal-safe: call it from the writer thread. Returns the count.
int cctrace_sampler_drain(cctrace_sample *out, int max);

/// Samples lost because the ring was full.
uint64_t cctrace_sampler_dropped(void);

/// Thread `tid`'s scheduler state from /proc ('R' running or runnable, 'S', 'D', …; 0 if
/// unknown), and when it is blocked, the system call it waits in (-1 if none) and its user PC.
char cctrace_thread_state(int tid, long *syscall_number, uint64_t *pc);

/// Where a thread blocked in a system call was called from, without signalling it (a signal
/// would cut a sleep short): its user stack pointer from /proc/self/task/TID/syscall, then the
/// words of its stack above it (read with process_vm_readv, so an unmapped page is an error,
/// not a fault) that are return addresses — they point into an executable mapping just past a
/// call instruction. Stack scanning can add a stale address between real frames, but the
/// first frames above a blocking call are the ones that made it. Fills up to `max` addresses,
/// innermost first; returns how many (0 when the thread is not in a system call).
int cctrace_blocked_stack(int tid, uint64_t *out, int max);

#ifdef __cplusplus
}
#endif

#endif
