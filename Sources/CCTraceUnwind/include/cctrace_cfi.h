// cctrace_cfi.h — unwinding a copied stack by DWARF call-frame information.
//
// The SIGPROF handler does not unwind: unwinding in a signal handler means reading unwind
// tables through the loader (dl_iterate_phdr takes its lock), caches (libunwind's take locks,
// allocate with malloc and touch lazily allocated thread-local storage) — any of which can
// deadlock against the code the signal interrupted. The handler copies the interrupted
// registers and the top of the stack instead (see cctrace_sampler.c); this unwinder runs later,
// on the writer thread, over that copy.
#ifndef CCTRACE_CFI_H
#define CCTRACE_CFI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Registers a sample keeps: rip, rsp, rbp, rbx, r12, r13, r14, r15.
#define CCTRACE_CFI_REGS 8

/// A copied stack: `length` bytes that were at address `base` (the interrupted `rsp`), and the
/// registers at the interruption.
typedef struct {
  uintptr_t base;
  size_t length;
  const uint8_t *bytes;
  uint64_t registers[CCTRACE_CFI_REGS];
} cctrace_cfi_stack;

/// Runs `body(context)` with the image cache fresh (rebuilt when the loader added or removed an
/// image) and the loader's lock held, so no image's unwind tables are unmapped while `body`
/// calls `cctrace_cfi_unwind`. `body` must not load or unload images.
void cctrace_cfi_with_images(void (*body)(void *), void *context);

/// Unwinds `stack` into up to `max` frames, innermost first (the first is the interrupted
/// instruction, the others return addresses). Stops at the outermost frame, at the end of the
/// copy, or at a frame it cannot unwind. Returns the number of frames.
int cctrace_cfi_unwind(const cctrace_cfi_stack *stack, void **frames, int max);

#ifdef __cplusplus
}
#endif

#endif
