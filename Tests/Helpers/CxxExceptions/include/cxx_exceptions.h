// A C++ function the stack tests call while the profiler samples: exceptions must still be
// thrown and caught with libunwind loaded into the process.
#ifndef CXX_EXCEPTIONS_H
#define CXX_EXCEPTIONS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Throws and catches a C++ exception `rounds` times, `depth` frames deep; returns how many
/// were caught.
int cctrace_test_throw_and_catch(int rounds, int depth);

#ifdef __cplusplus
}
#endif

#endif
