// Memory hints for the analysis' passes over millions of slices. A pass reads its slices in
// order but does little with each, so the hardware's prefetcher falls behind and every slice
// costs a wait for memory; asking for slices some distance ahead hides that wait.
#ifndef CCTRACE_MEMORY_H
#define CCTRACE_MEMORY_H

/// Asks for the cache line at `address` to be read (for reading, kept in every cache level).
/// A hint only: it never faults, whatever the address.
static inline void cctrace_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
